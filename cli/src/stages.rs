//! Stage timing with a spinner for long stages.

use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Runs named stages, shows a spinner while each runs (on a terminal), and records timings.
pub struct Stages {
    quiet: bool,
    timings: Vec<(String, f64)>,
    /// Spinners of stages running side by side ([`Stages::beside`]) share one display.
    shared: Option<MultiProgress>,
}

impl Stages {
    /// `quiet` suppresses the per-stage lines on stderr (the timings are still recorded).
    pub fn new(quiet: bool) -> Self {
        Self {
            quiet,
            timings: Vec::new(),
            shared: None,
        }
    }

    /// Stages to run on another thread beside this one's: their spinners and lines share
    /// the display with it. Their timings come back with [`Stages::absorb`].
    pub fn beside(&mut self) -> Stages {
        let shared = self.shared.get_or_insert_with(MultiProgress::new).clone();
        Stages {
            quiet: self.quiet,
            timings: Vec::new(),
            shared: Some(shared),
        }
    }

    /// Takes the timings of stages that ran beside this one (already shown).
    pub fn absorb(&mut self, other: Stages) {
        self.timings.extend(other.timings);
    }

    fn line(&self, text: String) {
        if self.quiet {
            return;
        }
        match &self.shared {
            // A hidden display (output not a terminal) drops what it is given to print.
            Some(m) if !m.is_hidden() => {
                if m.println(&text).is_err() {
                    eprintln!("{text}");
                }
            }
            _ => eprintln!("{text}"),
        }
    }

    /// Runs one stage.
    pub fn run<T, E>(&mut self, name: &str, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let bar = if self.quiet {
            ProgressBar::hidden()
        } else {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"),
            );
            b.set_message(name.to_string());
            let b = match &self.shared {
                Some(m) => m.add(b),
                None => b,
            };
            b.enable_steady_tick(Duration::from_millis(120));
            b
        };
        let start = Instant::now();
        let result = f();
        let secs = start.elapsed().as_secs_f64();
        bar.finish_and_clear();
        if let Some(m) = &self.shared {
            m.remove(&bar);
        }
        if result.is_ok() {
            self.line(format!("{name:<36} {secs:>9.3} s"));
            self.timings.push((name.to_string(), secs));
        }
        result
    }

    /// Records a stage that ran alongside another one (timed by its caller).
    pub fn record(&mut self, name: &str, secs: f64) {
        self.line(format!("{name:<36} {secs:>9.3} s"));
        self.timings.push((name.to_string(), secs));
    }

    /// Recorded timings as a JSON object (seconds).
    pub fn json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.timings
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::json!(v)))
                .collect(),
        )
    }
}
