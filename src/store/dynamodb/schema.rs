//! The two tables as data, said once: their keys, the attributes those keys name, their
//! indexes, TTL attribute and billing mode. `create_tables` (in `provisioning`) builds the
//! tables from this description, and a test checks that template.yaml, which creates them in
//! AWS, describes the same tables.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
};

use super::errors::built;
use super::keys::PK;
use crate::domain::store::StoreError;

/// The TTL attribute of the tokens table.
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// The tokens table's index of families by user: keyed by `family_user`, which only family
/// records carry (a sparse index), sorted by `created_at`.
pub const FAMILIES_BY_USER: &str = "families_by_user";
/// The same by client, keyed by `family_client`.
pub const FAMILIES_BY_CLIENT: &str = "families_by_client";
pub(super) const FAMILY_USER: &str = "family_user";
pub(super) const FAMILY_CLIENT: &str = "family_client";
pub(super) const CREATED_AT: &str = "created_at";

/// An attribute that a key names, with its type.
#[derive(Debug, PartialEq)]
pub(super) struct Attribute {
    pub(super) name: &'static str,
    pub(super) kind: ScalarAttributeType,
}

/// A table's or an index's key: a partition attribute and, optionally, a sort attribute.
pub(super) struct Key {
    pub(super) partition: Attribute,
    pub(super) sort: Option<Attribute>,
}

/// A global secondary index.
pub(super) struct GlobalIndex {
    pub(super) name: &'static str,
    pub(super) key: Key,
    pub(super) projection: ProjectionType,
}

/// A table, without its name (that comes from the configuration, see `TableNames`).
pub(super) struct TableSchema {
    pub(super) key: Key,
    pub(super) indexes: &'static [&'static GlobalIndex],
    /// The attribute holding the epoch second at which DynamoDB may delete the item.
    pub(super) ttl_attribute: Option<&'static str>,
    pub(super) billing_mode: BillingMode,
}

const PARTITION_KEY: Key = Key {
    partition: Attribute {
        name: PK,
        kind: ScalarAttributeType::S,
    },
    sort: None,
};

/// Oldest family first.
const BY_CREATION: Attribute = Attribute {
    name: CREATED_AT,
    kind: ScalarAttributeType::N,
};

/// Clients (`CLIENT#<client_id>`) and users (`USER#<username>`).
pub(super) static CREDENTIALS: TableSchema = TableSchema {
    key: PARTITION_KEY,
    indexes: &[],
    ttl_attribute: None,
    billing_mode: BillingMode::PayPerRequest,
};

/// Tokens, token families and login failures; only family records carry the index keys.
pub(super) static TOKENS: TableSchema = TableSchema {
    key: PARTITION_KEY,
    indexes: &[&FAMILIES_BY_USER_INDEX, &FAMILIES_BY_CLIENT_INDEX],
    ttl_attribute: Some(TTL_ATTRIBUTE),
    billing_mode: BillingMode::PayPerRequest,
};

pub(super) static FAMILIES_BY_USER_INDEX: GlobalIndex = GlobalIndex {
    name: FAMILIES_BY_USER,
    key: Key {
        partition: Attribute {
            name: FAMILY_USER,
            kind: ScalarAttributeType::S,
        },
        sort: Some(BY_CREATION),
    },
    projection: ProjectionType::All,
};

pub(super) static FAMILIES_BY_CLIENT_INDEX: GlobalIndex = GlobalIndex {
    name: FAMILIES_BY_CLIENT,
    key: Key {
        partition: Attribute {
            name: FAMILY_CLIENT,
            kind: ScalarAttributeType::S,
        },
        sort: Some(BY_CREATION),
    },
    projection: ProjectionType::All,
};

impl Attribute {
    fn definition(&self) -> Result<AttributeDefinition, StoreError> {
        built(
            AttributeDefinition::builder()
                .attribute_name(self.name)
                .attribute_type(self.kind.clone())
                .build(),
        )
    }
}

impl Key {
    /// The key's attributes with their roles, partition first as DynamoDB requires.
    fn parts(&self) -> impl Iterator<Item = (&Attribute, KeyType)> {
        std::iter::once((&self.partition, KeyType::Hash))
            .chain(self.sort.as_ref().map(|sort| (sort, KeyType::Range)))
    }

    pub(super) fn schema(&self) -> Result<Vec<KeySchemaElement>, StoreError> {
        self.parts()
            .map(|(attribute, role)| {
                built(
                    KeySchemaElement::builder()
                        .attribute_name(attribute.name)
                        .key_type(role)
                        .build(),
                )
            })
            .collect()
    }

    /// What `UpdateTable` must define to add an index with this key.
    pub(super) fn attribute_definitions(&self) -> Result<Vec<AttributeDefinition>, StoreError> {
        self.parts()
            .map(|(attribute, _)| attribute.definition())
            .collect()
    }
}

impl GlobalIndex {
    fn projection(&self) -> Projection {
        Projection::builder()
            .projection_type(self.projection.clone())
            .build()
    }

    /// The index as `CreateTable` takes it.
    pub(super) fn definition(&self) -> Result<GlobalSecondaryIndex, StoreError> {
        built(
            GlobalSecondaryIndex::builder()
                .index_name(self.name)
                .set_key_schema(Some(self.key.schema()?))
                .projection(self.projection())
                .build(),
        )
    }

    /// The index as `UpdateTable` adds it to an existing table.
    pub(super) fn creation(&self) -> Result<CreateGlobalSecondaryIndexAction, StoreError> {
        built(
            CreateGlobalSecondaryIndexAction::builder()
                .index_name(self.name)
                .set_key_schema(Some(self.key.schema()?))
                .projection(self.projection())
                .build(),
        )
    }
}

impl TableSchema {
    /// The attributes that the table's key and its indexes' keys name, each once: DynamoDB
    /// wants exactly those defined, no more.
    fn attributes(&self) -> Vec<&Attribute> {
        let keys = std::iter::once(&self.key).chain(self.indexes.iter().map(|index| &index.key));
        let mut attributes: Vec<&Attribute> = Vec::new();
        for (attribute, _) in keys.flat_map(Key::parts) {
            // Only exact repeats are dropped: one name with two types stays, for DynamoDB (and
            // the template test) to refuse.
            if !attributes.contains(&attribute) {
                attributes.push(attribute);
            }
        }
        attributes
    }

    pub(super) fn attribute_definitions(&self) -> Result<Vec<AttributeDefinition>, StoreError> {
        self.attributes()
            .into_iter()
            .map(Attribute::definition)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use serde::Deserialize;
    use serde_norway::Value;

    use super::*;

    /// A table reduced to what both descriptions state, in a form that compares by value:
    /// sets where DynamoDB takes sets, CloudFormation's spelling of every enumeration.
    #[derive(Debug)]
    struct Shape {
        billing_mode: String,
        attributes: BTreeSet<(String, String)>,
        key: KeyShape,
        indexes: BTreeMap<String, IndexShape>,
        ttl_attribute: Option<String>,
    }

    /// `(attribute, HASH or RANGE)`, partition first.
    type KeyShape = Vec<(String, String)>;

    #[derive(Debug, PartialEq)]
    struct IndexShape {
        key: KeyShape,
        projection_type: String,
        non_key_attributes: Vec<String>,
    }

    impl Shape {
        fn of(schema: &TableSchema) -> Self {
            let key = |key: &Key| -> KeyShape {
                key.parts()
                    .map(|(attribute, role)| (attribute.name.to_owned(), role.as_str().to_owned()))
                    .collect()
            };
            Self {
                billing_mode: schema.billing_mode.as_str().to_owned(),
                attributes: schema
                    .attributes()
                    .into_iter()
                    .map(|a| (a.name.to_owned(), a.kind.as_str().to_owned()))
                    .collect(),
                key: key(&schema.key),
                indexes: schema
                    .indexes
                    .iter()
                    .map(|index| {
                        let shape = IndexShape {
                            key: key(&index.key),
                            projection_type: index.projection.as_str().to_owned(),
                            // Only `ALL` is used, which names none.
                            non_key_attributes: Vec::new(),
                        };
                        (index.name.to_owned(), shape)
                    })
                    .collect(),
                ttl_attribute: schema.ttl_attribute.map(str::to_owned),
            }
        }

        fn in_template(template: &Value, resource: &str, kind: &str) -> Self {
            let definition = &template["Resources"][resource];
            assert_eq!(
                definition["Type"].as_str(),
                Some(kind),
                "template.yaml has no {kind} {resource}"
            );
            let table: TemplateTable = serde_norway::from_value(definition["Properties"].clone())
                .unwrap_or_else(|e| panic!("template.yaml's {resource}: {e}"));
            let key = |key: Vec<TemplateKeyPart>| -> KeyShape {
                key.into_iter()
                    .map(|part| (part.attribute_name, part.key_type))
                    .collect()
            };
            Self {
                billing_mode: table.billing_mode,
                attributes: table
                    .attribute_definitions
                    .into_iter()
                    .map(|a| (a.attribute_name, a.attribute_type))
                    .collect(),
                key: key(table.key_schema),
                indexes: table
                    .global_secondary_indexes
                    .into_iter()
                    .map(|index| {
                        let shape = IndexShape {
                            key: key(index.key_schema),
                            projection_type: index.projection.projection_type,
                            non_key_attributes: index.projection.non_key_attributes,
                        };
                        (index.index_name, shape)
                    })
                    .collect(),
                ttl_attribute: table
                    .time_to_live_specification
                    .filter(|ttl| ttl.enabled)
                    .map(|ttl| ttl.attribute_name),
            }
        }

        /// One line per property on which `self` (from the template) and `schema` differ.
        fn differences(&self, schema: &Self) -> Vec<String> {
            let index_names: BTreeSet<&String> =
                self.indexes.keys().chain(schema.indexes.keys()).collect();
            let indexes = index_names.into_iter().map(|name| {
                difference(
                    &format!("GlobalSecondaryIndexes {name}"),
                    &self.indexes.get(name),
                    &schema.indexes.get(name),
                )
            });
            [
                difference("BillingMode", &self.billing_mode, &schema.billing_mode),
                difference("AttributeDefinitions", &self.attributes, &schema.attributes),
                difference("KeySchema", &self.key, &schema.key),
                difference(
                    "TimeToLiveSpecification (enabled)",
                    &self.ttl_attribute,
                    &schema.ttl_attribute,
                ),
            ]
            .into_iter()
            .chain(indexes)
            .flatten()
            .collect()
        }
    }

    fn difference<T: PartialEq + std::fmt::Debug>(
        property: &str,
        template: &T,
        schema: &T,
    ) -> Option<String> {
        (template != schema).then(|| {
            format!("  {property}:\n    template.yaml: {template:?}\n    schema.rs:     {schema:?}")
        })
    }

    // The CloudFormation properties the schema states; serde skips the others (SSE,
    // point-in-time recovery).
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct TemplateTable {
        billing_mode: String,
        attribute_definitions: Vec<TemplateAttribute>,
        key_schema: Vec<TemplateKeyPart>,
        #[serde(default)]
        global_secondary_indexes: Vec<TemplateIndex>,
        time_to_live_specification: Option<TemplateTtl>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct TemplateAttribute {
        attribute_name: String,
        attribute_type: String,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct TemplateKeyPart {
        attribute_name: String,
        key_type: String,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct TemplateIndex {
        index_name: String,
        key_schema: Vec<TemplateKeyPart>,
        projection: TemplateProjection,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct TemplateProjection {
        projection_type: String,
        #[serde(default)]
        non_key_attributes: Vec<String>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct TemplateTtl {
        attribute_name: String,
        enabled: bool,
    }

    #[test]
    fn template_yaml_defines_the_tables_this_schema_describes() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // Short tags such as `!Ref` parse as `Value::Tagged`, so the whole template reads.
        let template: Value =
            serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut report = Vec::new();
        let table = "AWS::DynamoDB::Table";
        // The multi-Region strongly consistent tables are the same but for TTL, which they do
        // not support (expired items are swept instead).
        let global = "AWS::DynamoDB::GlobalTable";
        let without_ttl = |schema: &TableSchema| Shape {
            ttl_attribute: None,
            ..Shape::of(schema)
        };
        for (resource, kind, expected) in [
            ("CredentialsTable", table, Shape::of(&CREDENTIALS)),
            ("TokensTable", table, Shape::of(&TOKENS)),
            ("GlobalCredentialsTable", global, without_ttl(&CREDENTIALS)),
            ("GlobalTokensTable", global, without_ttl(&TOKENS)),
        ] {
            let differences = Shape::in_template(&template, resource, kind).differences(&expected);
            if !differences.is_empty() {
                report.push(format!("{resource}:\n{}", differences.join("\n")));
            }
        }
        assert!(
            report.is_empty(),
            "template.yaml does not define the tables that src/store/dynamodb/schema.rs \
             describes (and create_tables creates); change both together.\n{}",
            report.join("\n")
        );
    }
}
