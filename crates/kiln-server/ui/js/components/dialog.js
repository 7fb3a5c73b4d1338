// Modal dialogs on the native <dialog> element (focus is kept inside, Escape
// closes). An action that throws keeps the dialog open and shows the error in it.

import { h, mount } from '../dom.js';

/**
 * Opens a dialog. `body` is a node (or list of nodes); `onSubmit` runs on the
 * primary action and may return a promise: the dialog closes when it resolves and
 * shows the error when it rejects. Resolves to the primary action's result, or
 * `undefined` when cancelled.
 */
export function openDialog({ title, body, submitLabel = 'Save', danger = false, onSubmit, cancelLabel = 'Cancel', wide = false }) {
  return new Promise((resolve) => {
    const err = h('div', { role: 'alert' });
    const submit = h(`button.btn.${danger ? 'danger' : 'primary'}`, { type: 'submit', value: 'ok' }, submitLabel);
    const form = h('form', { method: 'dialog' },
      h('header', title),
      h('div.body', body, err),
      h('footer',
        h('button.btn', { type: 'button', value: 'cancel', onclick: () => close(undefined) }, cancelLabel),
        submit));
    const dlg = h('dialog', { 'aria-label': title, style: wide ? { width: 'min(900px, 96vw)' } : null }, form);
    let done = false;
    function close(v) {
      if (done) return;
      done = true;
      dlg.close();
      dlg.remove();
      resolve(v);
    }
    dlg.addEventListener('cancel', (e) => { e.preventDefault(); close(undefined); });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      submit.disabled = true;
      mount(err);
      try {
        const v = onSubmit ? await onSubmit() : true;
        close(v === undefined ? true : v);
      } catch (ex) {
        mount(err, h('div.error-box', ex && ex.message ? ex.message : String(ex)));
        submit.disabled = false;
      }
    });
    document.body.appendChild(dlg);
    dlg.showModal();
    const first = dlg.querySelector('input, textarea, select');
    if (first) first.focus();
  });
}

/** A yes/no question; resolves true when confirmed and `action` (if any) succeeded. */
export function confirmDialog(title, message, { confirmLabel = 'Confirm', danger = false, action } = {}) {
  return openDialog({
    title,
    body: h('p', message),
    submitLabel: confirmLabel,
    danger,
    onSubmit: action,
  }).then((v) => !!v);
}

/** Asks for one line of text; resolves to the value (after `action(value)` succeeded) or undefined. */
export function promptDialog(title, label, { value = '', submitLabel = 'Save', action, multiline = false, placeholder = '' } = {}) {
  const input = multiline
    ? h('textarea', { 'aria-label': label, placeholder }, value)
    : h('input', { type: 'text', value, 'aria-label': label, placeholder, autocomplete: 'off', spellcheck: 'false' });
  return openDialog({
    title,
    body: h('label.field', h('span', label), input),
    submitLabel,
    onSubmit: async () => {
      const v = input.value;
      if (action) await action(v);
      return { value: v };
    },
  }).then((r) => (r && typeof r === 'object' ? r.value : undefined));
}
