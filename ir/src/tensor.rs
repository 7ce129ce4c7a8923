//! Dense integer tensors and the index arithmetic shared by every op.

use serde::{Deserialize, Serialize};

/// A dense, row-major tensor of fixed-point integers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Vec<i64>,
}

impl Tensor {
    /// Builds a tensor; `data.len()` must equal the product of `shape`.
    ///
    /// Returns `None` when the lengths disagree.
    pub fn new(shape: Vec<usize>, data: Vec<i64>) -> Option<Self> {
        (numel(&shape) == data.len()).then_some(Self { shape, data })
    }

    /// A tensor of the given shape filled with `value`.
    pub fn filled(shape: Vec<usize>, value: i64) -> Self {
        let n = numel(&shape);
        Self {
            shape,
            data: vec![value; n],
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The values in row-major order.
    pub fn data(&self) -> &[i64] {
        &self.data
    }

    /// Mutable access to the values.
    pub fn data_mut(&mut self) -> &mut [i64] {
        &mut self.data
    }

    /// Consumes the tensor, returning its values.
    pub fn into_data(self) -> Vec<i64> {
        self.data
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The largest absolute value (0 for an empty tensor).
    pub fn max_abs(&self) -> u64 {
        self.data
            .iter()
            .map(|v| v.unsigned_abs())
            .max()
            .unwrap_or(0)
    }
}

/// The number of elements of a shape (1 for a scalar), saturating at `usize::MAX`.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().fold(1usize, |acc, &d| acc.saturating_mul(d))
}

/// Row-major strides of a shape.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Splits a flat row-major index into coordinates.
pub fn unravel(mut flat: usize, shape: &[usize], out: &mut [usize]) {
    for i in (0..shape.len()).rev() {
        let d = shape[i].max(1);
        out[i] = flat % d;
        flat /= d;
    }
}

/// The broadcast shape of two shapes under numpy rules, or `None` if they are incompatible.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for (i, o) in out.iter_mut().enumerate() {
        let da = dim_from_right(a, rank - 1 - i);
        let db = dim_from_right(b, rank - 1 - i);
        *o = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

fn dim_from_right(shape: &[usize], from_right: usize) -> usize {
    if from_right < shape.len() {
        shape[shape.len() - 1 - from_right]
    } else {
        1
    }
}

/// Maps flat indices of a broadcast output back to flat indices of one operand.
#[derive(Clone, Debug)]
pub struct BroadcastMap {
    out_shape: Vec<usize>,
    /// Stride in the operand for each output axis (0 where the operand is broadcast).
    operand_strides: Vec<usize>,
}

impl BroadcastMap {
    /// Prepares the map from `operand` (which must broadcast to `out_shape`).
    pub fn new(operand: &[usize], out_shape: &[usize]) -> Self {
        let rank = out_shape.len();
        let op_strides = strides(operand);
        let offset = rank - operand.len();
        let operand_strides = (0..rank)
            .map(|i| {
                if i < offset || operand[i - offset] == 1 {
                    0
                } else {
                    op_strides[i - offset]
                }
            })
            .collect();
        Self {
            out_shape: out_shape.to_vec(),
            operand_strides,
        }
    }

    /// The operand's flat index for output flat index `flat`.
    pub fn index(&self, mut flat: usize) -> usize {
        let mut idx = 0;
        for i in (0..self.out_shape.len()).rev() {
            let d = self.out_shape[i].max(1);
            idx += (flat % d) * self.operand_strides[i];
            flat /= d;
        }
        idx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shapes(&[2, 1, 4], &[3, 1]), Some(vec![2, 3, 4]));
        assert_eq!(broadcast_shapes(&[], &[5]), Some(vec![5]));
        assert_eq!(broadcast_shapes(&[2, 3], &[4, 3]), None);
        let m = BroadcastMap::new(&[3, 1], &[2, 3, 4]);
        // output (1, 2, 3) -> operand (2, 0)
        assert_eq!(m.index(12 + 2 * 4 + 3), 2);
    }

    #[test]
    fn strides_and_unravel_agree() {
        let shape = [2, 3, 4];
        let s = strides(&shape);
        assert_eq!(s, vec![12, 4, 1]);
        let mut c = [0; 3];
        unravel(23, &shape, &mut c);
        assert_eq!(c, [1, 2, 3]);
    }
}
