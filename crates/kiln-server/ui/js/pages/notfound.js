// The page for a path the UI does not know.

import { h, mount, empty, title } from '../dom.js';

export async function render(root) {
  title('Not found');
  mount(root, empty('Page not found',
    h('p', 'There is no page at ', h('code', location.pathname), '.'),
    h('p', h('a', { href: '/experiments' }, 'Experiments'), ' · ', h('a', { href: '/models' }, 'Models'))));
}
