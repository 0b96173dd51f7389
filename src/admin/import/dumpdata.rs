//! Reading the file `manage.py dumpdata` writes: a JSON list of `{"model", "pk", "fields"}`
//! objects. Only its shape is checked here; what a record means is `super::django`'s concern.

use serde_json::{Map, Value};

/// The export as a whole cannot be read; nothing was written. Messages never quote its content.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("the export is not JSON ({0})")]
    NotJson(#[source] serde_json::Error),
    #[error("the export is not a JSON list of objects, as `manage.py dumpdata` writes")]
    NotAList,
    #[error(
        "object {0} of the export (counting from 0) has no \"model\" string and \"fields\" object"
    )]
    NotAModelObject(usize),
}

/// One object of a dumpdata export.
pub(super) struct ModelObject {
    /// In lower case, as labels are compared.
    pub(super) model: String,
    pub(super) pk: Option<Value>,
    pub(super) fields: Map<String, Value>,
}

/// Every object of the export, in its order, or why the export is not one.
pub(super) fn model_objects(export: &str) -> Result<Vec<ModelObject>, ExportError> {
    let Value::Array(objects) =
        serde_json::from_str::<Value>(export).map_err(ExportError::NotJson)?
    else {
        return Err(ExportError::NotAList);
    };
    objects
        .into_iter()
        .enumerate()
        .map(|(index, object)| {
            let Value::Object(mut object) = object else {
                return Err(ExportError::NotAModelObject(index));
            };
            match (object.remove("model"), object.remove("fields")) {
                (Some(Value::String(model)), Some(Value::Object(fields))) => Ok(ModelObject {
                    model: model.to_ascii_lowercase(),
                    pk: object.remove("pk"),
                    fields,
                }),
                _ => Err(ExportError::NotAModelObject(index)),
            }
        })
        .collect()
}

pub(super) fn string_field<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    fields.get(name).and_then(Value::as_str)
}
