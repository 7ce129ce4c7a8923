//! Typed access to a node's attributes, with ONNX defaults and a check for unknown names.

use std::cell::RefCell;
use std::collections::BTreeSet;

use crate::data::{from_tensor_proto, Data};
use crate::error::NodeError;
use crate::proto::{attribute_type as at, AttributeProto, NodeProto};

/// A node's attributes. Parsers read what they understand; [`Attrs::finish`] then rejects any
/// attribute left unread, so nothing the model says is ignored silently.
pub struct Attrs<'a> {
    node: &'a NodeProto,
    read: RefCell<BTreeSet<&'static str>>,
}

type Result<T> = std::result::Result<T, NodeError>;

impl<'a> Attrs<'a> {
    /// Wraps a node's attributes.
    pub fn new(node: &'a NodeProto) -> Self {
        Self {
            node,
            read: RefCell::new(BTreeSet::new()),
        }
    }

    fn get(&self, name: &'static str, ty: i32) -> Result<Option<&'a AttributeProto>> {
        self.read.borrow_mut().insert(name);
        let Some(a) = self.node.attribute.iter().find(|a| a.name == name) else {
            return Ok(None);
        };
        if !a.ref_attr_name.is_empty() {
            return Err(NodeError::UnsupportedAttribute {
                name: name.into(),
                value: format!("a reference to '{}'", a.ref_attr_name),
                supported: "attribute references only occur inside functions".into(),
            });
        }
        // Old exporters leave `type` unset; accept those when the payload matches.
        if a.r#type != ty && a.r#type != at::UNDEFINED {
            return Err(NodeError::Invalid(format!(
                "attribute '{name}' has type {}, expected {}",
                type_name(a.r#type),
                type_name(ty)
            )));
        }
        Ok(Some(a))
    }

    /// An integer attribute.
    pub fn int(&self, name: &'static str) -> Result<Option<i64>> {
        Ok(self.get(name, at::INT)?.map(|a| a.i))
    }

    /// An integer attribute with a default.
    pub fn int_or(&self, name: &'static str, default: i64) -> Result<i64> {
        Ok(self.int(name)?.unwrap_or(default))
    }

    /// A float attribute.
    pub fn float(&self, name: &'static str) -> Result<Option<f64>> {
        Ok(self.get(name, at::FLOAT)?.map(|a| f64::from(a.f)))
    }

    /// A float attribute with a default.
    pub fn float_or(&self, name: &'static str, default: f64) -> Result<f64> {
        Ok(self.float(name)?.unwrap_or(default))
    }

    /// A list of integers.
    pub fn ints(&self, name: &'static str) -> Result<Option<Vec<i64>>> {
        Ok(self.get(name, at::INTS)?.map(|a| a.ints.clone()))
    }

    /// A list of floats.
    pub fn floats(&self, name: &'static str) -> Result<Option<Vec<f64>>> {
        Ok(self
            .get(name, at::FLOATS)?
            .map(|a| a.floats.iter().map(|&f| f64::from(f)).collect()))
    }

    /// A string attribute.
    pub fn string(&self, name: &'static str) -> Result<Option<String>> {
        match self.get(name, at::STRING)? {
            None => Ok(None),
            Some(a) => String::from_utf8(a.s.clone())
                .map(Some)
                .map_err(|_| NodeError::Invalid(format!("attribute '{name}' is not UTF-8"))),
        }
    }

    /// A list of strings.
    pub fn strings(&self, name: &'static str) -> Result<Option<Vec<String>>> {
        match self.get(name, at::STRINGS)? {
            None => Ok(None),
            Some(a) => a
                .strings
                .iter()
                .map(|s| {
                    String::from_utf8(s.clone())
                        .map_err(|_| NodeError::Invalid(format!("attribute '{name}' is not UTF-8")))
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
        }
    }

    /// A string attribute with a default.
    pub fn string_or(&self, name: &'static str, default: &str) -> Result<String> {
        Ok(self.string(name)?.unwrap_or_else(|| default.to_string()))
    }

    /// A tensor attribute.
    pub fn tensor(&self, name: &'static str) -> Result<Option<Data>> {
        match self.get(name, at::TENSOR)? {
            None => Ok(None),
            Some(a) => {
                let t = a.t.as_ref().ok_or_else(|| {
                    NodeError::Invalid(format!("attribute '{name}' holds no tensor"))
                })?;
                from_tensor_proto(t, None)
                    .map(Some)
                    .map_err(NodeError::UnsupportedDtype)
            }
        }
    }

    /// Marks attributes as understood without reading them (for attributes with no effect on
    /// inference, such as Dropout's `seed`).
    pub fn ignore(&self, names: &[&'static str]) {
        self.read.borrow_mut().extend(names.iter().copied());
    }

    /// Fails if the node carries an attribute no parser step read.
    pub fn finish(&self) -> Result<()> {
        let read = self.read.borrow();
        match self
            .node
            .attribute
            .iter()
            .find(|a| !read.contains(a.name.as_str()))
        {
            None => Ok(()),
            Some(a) => Err(NodeError::UnknownAttribute {
                name: a.name.clone(),
                known: if read.is_empty() {
                    "none".into()
                } else {
                    read.iter().copied().collect::<Vec<_>>().join(", ")
                },
            }),
        }
    }
}

fn type_name(t: i32) -> &'static str {
    match t {
        at::FLOAT => "FLOAT",
        at::INT => "INT",
        at::STRING => "STRING",
        at::TENSOR => "TENSOR",
        at::GRAPH => "GRAPH",
        at::FLOATS => "FLOATS",
        at::INTS => "INTS",
        at::STRINGS => "STRINGS",
        at::TENSORS => "TENSORS",
        at::GRAPHS => "GRAPHS",
        _ => "UNDEFINED",
    }
}
