//! Per-iteration callbacks: what a learner reports after each boosting round or epoch.

/// What a callback asks the learner to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Continue,
    /// Stop now; the model keeps the iterations up to `best_iteration` if a
    /// callback has set one (early stopping), else all so far.
    Stop,
}

/// One iteration's report: metrics on the training and validation sets,
/// named `train_<metric>` and `valid_<metric>` (e.g. `valid_auc`).
#[derive(Debug, Clone)]
pub struct IterationReport<'a> {
    /// 1-based iteration (boosting round, epoch).
    pub iteration: usize,
    pub metrics: &'a [(String, f64)],
}

impl IterationReport<'_> {
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }
}

/// Something that watches training iteration by iteration.
pub trait Callback: Send {
    /// Called after each iteration.
    fn on_iteration(&mut self, report: &IterationReport<'_>) -> Control;
    /// The iteration the model should be truncated to when training ends, if
    /// this callback chose one (early stopping keeps the best iteration).
    fn best_iteration(&self) -> Option<usize> {
        None
    }
    /// Called once when training ends (normally or stopped).
    fn on_end(&mut self, _iterations: usize) {}
    /// Whether this callback wants a snapshot of the model after `iteration`.
    fn wants_checkpoint(&self, _iteration: usize) -> bool {
        false
    }
    /// The snapshot asked for by [`Callback::wants_checkpoint`]; an error stops the fit.
    fn on_checkpoint(&mut self, _iteration: usize, _model: &crate::SavedModel) -> Result<(), String> {
        Ok(())
    }
}

/// The callbacks of one fit, run in order; any `Stop` stops the fit. They may
/// borrow from the caller for the fit's duration (`'a`).
#[derive(Default)]
pub struct Callbacks<'a> {
    list: Vec<Box<dyn Callback + 'a>>,
}

impl<'a> Callbacks<'a> {
    pub fn new() -> Callbacks<'a> {
        Callbacks { list: Vec::new() }
    }

    pub fn with(mut self, cb: impl Callback + 'a) -> Callbacks<'a> {
        self.list.push(Box::new(cb));
        self
    }

    pub fn push(&mut self, cb: Box<dyn Callback + 'a>) {
        self.list.push(cb);
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Reports an iteration to every callback; `Stop` if any asks for it.
    pub fn on_iteration(&mut self, report: &IterationReport<'_>) -> Control {
        let mut control = Control::Continue;
        for cb in &mut self.list {
            if cb.on_iteration(report) == Control::Stop {
                control = Control::Stop;
            }
        }
        control
    }

    /// The earliest best iteration any callback chose.
    pub fn best_iteration(&self) -> Option<usize> {
        self.list.iter().filter_map(|c| c.best_iteration()).min()
    }

    pub fn on_end(&mut self, iterations: usize) {
        for cb in &mut self.list {
            cb.on_end(iterations);
        }
    }

    /// Whether any callback wants a snapshot after `iteration`.
    pub fn wants_checkpoint(&self, iteration: usize) -> bool {
        self.list.iter().any(|c| c.wants_checkpoint(iteration))
    }

    /// Hands a snapshot to the callbacks that asked for one.
    pub fn on_checkpoint(&mut self, iteration: usize, model: &crate::SavedModel) -> Result<(), String> {
        for cb in &mut self.list {
            if cb.wants_checkpoint(iteration) {
                cb.on_checkpoint(iteration, model)?;
            }
        }
        Ok(())
    }
}

/// Writes the model every `every` iterations to `dir/checkpoint-<iteration>.json`
/// (written to a temporary name, then renamed, so a checkpoint is whole or absent).
#[derive(Debug, Clone)]
pub struct Checkpoint {
    dir: std::path::PathBuf,
    every: usize,
    written: Vec<std::path::PathBuf>,
}

impl Checkpoint {
    pub fn new(dir: impl Into<std::path::PathBuf>, every: usize) -> Checkpoint {
        Checkpoint {
            dir: dir.into(),
            every: every.max(1),
            written: Vec::new(),
        }
    }

    /// The checkpoint files written so far, in order.
    pub fn written(&self) -> &[std::path::PathBuf] {
        &self.written
    }

    /// Reads a checkpoint back.
    pub fn load(path: &std::path::Path) -> Result<crate::SavedModel, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: not a checkpoint: {e}", path.display()))
    }
}

impl Callback for Checkpoint {
    fn on_iteration(&mut self, _report: &IterationReport<'_>) -> Control {
        Control::Continue
    }
    fn wants_checkpoint(&self, iteration: usize) -> bool {
        iteration.is_multiple_of(self.every)
    }
    fn on_checkpoint(&mut self, iteration: usize, model: &crate::SavedModel) -> Result<(), String> {
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let path = self.dir.join(format!("checkpoint-{iteration}.json"));
        let tmp = self.dir.join(format!(".checkpoint-{iteration}.json.tmp"));
        let bytes = serde_json::to_vec(model).map_err(|e| e.to_string())?;
        std::fs::write(&tmp, bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
        self.written.push(path);
        Ok(())
    }
}

/// Stops when a validation metric has not improved for `patience` iterations,
/// and keeps the best iteration.
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    metric: String,
    patience: usize,
    higher_is_better: bool,
    min_delta: f64,
    best: Option<(usize, f64)>,
}

impl EarlyStopping {
    /// Watches `metric` (as reported, e.g. `valid_auc`).
    pub fn new(metric: impl Into<String>, patience: usize, higher_is_better: bool) -> EarlyStopping {
        EarlyStopping {
            metric: metric.into(),
            patience: patience.max(1),
            higher_is_better,
            min_delta: 0.0,
            best: None,
        }
    }

    /// An improvement must beat the best by more than `delta`.
    pub fn with_min_delta(mut self, delta: f64) -> EarlyStopping {
        self.min_delta = delta.max(0.0);
        self
    }

    /// The best (iteration, value) so far.
    pub fn best(&self) -> Option<(usize, f64)> {
        self.best
    }
}

impl Callback for EarlyStopping {
    fn on_iteration(&mut self, report: &IterationReport<'_>) -> Control {
        let Some(v) = report.metric(&self.metric) else {
            return Control::Continue;
        };
        if !v.is_finite() {
            return Control::Continue;
        }
        let improved = match self.best {
            None => true,
            Some((_, b)) if self.higher_is_better => v > b + self.min_delta,
            Some((_, b)) => v < b - self.min_delta,
        };
        if improved {
            self.best = Some((report.iteration, v));
            return Control::Continue;
        }
        match self.best {
            Some((it, _)) if report.iteration >= it + self.patience => Control::Stop,
            _ => Control::Continue,
        }
    }

    fn best_iteration(&self) -> Option<usize> {
        self.best.map(|(it, _)| it)
    }
}

/// One iteration's metrics: (iteration, [(name, value)]).
pub type IterationRecord = (usize, Vec<(String, f64)>);

/// Every iteration's metrics, shared so the caller can read them after the fit
/// (learning curves).
#[derive(Debug, Clone, Default)]
pub struct History {
    inner: std::sync::Arc<std::sync::Mutex<Vec<IterationRecord>>>,
}

impl History {
    pub fn new() -> History {
        History::default()
    }

    /// (iteration, metrics) for every iteration seen, in order.
    pub fn records(&self) -> Vec<IterationRecord> {
        self.inner.lock().map(|g| g.clone()).unwrap_or_default()
    }
}

impl Callback for History {
    fn on_iteration(&mut self, report: &IterationReport<'_>) -> Control {
        if let Ok(mut g) = self.inner.lock() {
            g.push((report.iteration, report.metrics.to_vec()));
        }
        Control::Continue
    }
}

/// Stops the fit when its flag is set (from another thread, a signal handler, a deadline).
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    flag: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }
    pub fn cancel(&self) {
        self.flag.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Callback for Cancel {
    fn on_iteration(&mut self, _report: &IterationReport<'_>) -> Control {
        if self.is_cancelled() {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

/// Calls a closure each iteration (progress bars, trial reporting, pruning).
pub struct FnCallback<F>(pub F);

impl<F> Callback for FnCallback<F>
where
    F: FnMut(&IterationReport<'_>) -> Control + Send,
{
    fn on_iteration(&mut self, report: &IterationReport<'_>) -> Control {
        (self.0)(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(it: usize, v: f64) -> Vec<(String, f64)> {
        let _ = it;
        vec![("valid_auc".to_string(), v)]
    }

    #[test]
    fn early_stopping_keeps_the_best_iteration() {
        let mut cbs = Callbacks::new().with(EarlyStopping::new("valid_auc", 2, true));
        let values = [0.6, 0.7, 0.69, 0.71, 0.70, 0.70, 0.9];
        let mut stopped_at = None;
        for (i, v) in values.iter().enumerate() {
            let m = report(i + 1, *v);
            if cbs.on_iteration(&IterationReport {
                iteration: i + 1,
                metrics: &m,
            }) == Control::Stop
            {
                stopped_at = Some(i + 1);
                break;
            }
        }
        assert_eq!(stopped_at, Some(6));
        assert_eq!(cbs.best_iteration(), Some(4));
    }

    #[test]
    fn lower_is_better_and_missing_metrics_are_ignored() {
        let mut es = EarlyStopping::new("valid_logloss", 1, false);
        let m = vec![("valid_logloss".to_string(), 0.5)];
        assert_eq!(
            es.on_iteration(&IterationReport {
                iteration: 1,
                metrics: &m
            }),
            Control::Continue
        );
        let other = vec![("train_logloss".to_string(), 0.1)];
        assert_eq!(
            es.on_iteration(&IterationReport {
                iteration: 2,
                metrics: &other
            }),
            Control::Continue
        );
        let worse = vec![("valid_logloss".to_string(), 0.6)];
        assert_eq!(
            es.on_iteration(&IterationReport {
                iteration: 3,
                metrics: &worse
            }),
            Control::Stop
        );
        assert_eq!(es.best_iteration(), Some(1));
    }

    #[test]
    fn history_and_cancel() {
        let h = History::new();
        let c = Cancel::new();
        let mut cbs = Callbacks::new().with(h.clone()).with(c.clone());
        let m = report(1, 0.5);
        assert_eq!(
            cbs.on_iteration(&IterationReport {
                iteration: 1,
                metrics: &m
            }),
            Control::Continue
        );
        c.cancel();
        assert_eq!(
            cbs.on_iteration(&IterationReport {
                iteration: 2,
                metrics: &m
            }),
            Control::Stop
        );
        assert_eq!(h.records().len(), 2);
        assert_eq!(h.records()[1].0, 2);
    }
}
