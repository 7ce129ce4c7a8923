//! Adversarial witness generation, for soundness tests.
//!
//! Every value the layout's witness generator *chooses* (rather than copies) passes through
//! [`Layout::choose`](super::Layout): the value of an input, the result of a gate, a rescaled
//! or divided quotient, a square root, a comparison's decision bit, a table output, the
//! position of a one-hot vector. An [`Adversary`] may replace any of them. The generator then
//! derives everything else from the replaced value exactly as it derives it from an honest one
//! (remainders, differences, limbs, the decision's selected operand, and every later node's
//! values), so the layout is the complete witness a prover running a wrong evaluator would
//! build: consistent wherever the equations allow, with negative values wrapping to `p - x` in
//! the field. A sound circuit rejects it unless the departure changes no tensor value (the
//! alternative witnesses of a non-deterministic gadget, such as either decision on a tie).

use std::fmt;
use std::sync::Arc;

/// The role of a chosen value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Choice {
    /// An input element, or a parameter that is a witness.
    Value,
    /// A result lane: a linear combination, a product accumulator, a selected operand, a ReLU
    /// output, a product checked by Freivalds' test.
    Result,
    /// The quotient of a rescale or a division, or a square root.
    Quotient,
    /// A decision bit: which operand a comparison or a ReLU takes.
    Decision,
    /// A function-table output (a lookup, or data gathered by a constant table).
    TableOutput,
    /// The set position of a one-hot vector (gathering runtime data).
    Position,
}

/// One choice: the node being laid out, the role, and how many choices of that role the node
/// made before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Site {
    /// Program node index.
    pub node: usize,
    /// Role of the value.
    pub choice: Choice,
    /// Occurrence of this role within the node (0-based).
    pub index: usize,
}

/// A witness generator's departure from the honest one: given a site and the honest value,
/// the value to use instead.
#[derive(Clone)]
pub struct Adversary(Arc<dyn Fn(Site, i128) -> i128 + Send + Sync>);

impl Adversary {
    /// An adversary from a function of the site and the honest value.
    pub fn new(f: impl Fn(Site, i128) -> i128 + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// Replaces the honest value at `site` by `value(honest)`; keeps every other site honest.
    pub fn at(site: Site, value: impl Fn(i128) -> i128 + Send + Sync + 'static) -> Self {
        Self::new(move |s, honest| if s == site { value(honest) } else { honest })
    }

    /// The honest generator, recording nothing but the sites (a probe).
    pub fn honest() -> Self {
        Self::new(|_, honest| honest)
    }
}

impl fmt::Debug for Adversary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Adversary")
    }
}

/// What an adversary did to a layout, and the values it led to.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Every site met, in order, with the honest value there.
    pub sites: Vec<(Site, i128)>,
    /// Sites where the adversary's value differs from the honest one.
    pub departures: Vec<Site>,
    /// The value of every tensor element, per node, as laid out.
    pub values: Vec<Vec<i128>>,
}

/// The adversary of a layout and its bookkeeping.
#[derive(Clone, Debug)]
pub(crate) struct Tamper {
    pub adversary: Adversary,
    pub node: usize,
    pub counts: rustc_hash::FxHashMap<(usize, Choice), usize>,
    pub report: Report,
}

impl Tamper {
    pub fn new(adversary: Adversary) -> Self {
        Self {
            adversary,
            node: 0,
            counts: Default::default(),
            report: Report::default(),
        }
    }

    pub fn choose(&mut self, choice: Choice, honest: i128) -> i128 {
        let count = self.counts.entry((self.node, choice)).or_insert(0);
        let site = Site {
            node: self.node,
            choice,
            index: *count,
        };
        *count += 1;
        let v = (self.adversary.0)(site, honest);
        self.report.sites.push((site, honest));
        if v != honest {
            self.report.departures.push(site);
        }
        v
    }
}
