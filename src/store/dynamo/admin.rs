//! Creating the tables, for a local emulator or a first try without the template.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};

use super::{DynamoStore, Tables, service};
use crate::store::StoreError;

/// Each table with its key attributes, the first the partition key and the second,
/// if any, the sort key: the original tool's schemas, and `Id` for the state.
fn layouts(t: &Tables) -> [(&str, &'static [&'static str]); 4] {
    [
        (&t.schedules, &["ScheduleName"]),
        (&t.groups, &["ScheduleName", "GroupName"]),
        (&t.exceptions, &["ExceptionUuid"]),
        (&t.state, &["Id"]),
    ]
}

/// The key schema and attribute definitions of a table keyed by `keys`.
fn key_schema(keys: &[&str]) -> Vec<(KeySchemaElement, AttributeDefinition)> {
    keys.iter()
        .enumerate()
        .filter_map(|(k, name)| {
            let key_type = if k == 0 {
                KeyType::Hash
            } else {
                KeyType::Range
            };
            let schema = KeySchemaElement::builder()
                .attribute_name(*name)
                .key_type(key_type)
                .build()
                .ok()?;
            let definition = AttributeDefinition::builder()
                .attribute_name(*name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .ok()?;
            Some((schema, definition))
        })
        .collect()
}

impl DynamoStore {
    /// Creates the four tables with the original tool's key schemas (on-demand
    /// billing), for a local emulator or a first deployment without the template.
    /// Tables that exist already are left as they are.
    pub async fn create_tables(&self) -> Result<(), StoreError> {
        for (table, keys) in layouts(&self.tables) {
            let mut create = self
                .client
                .create_table()
                .table_name(table)
                .billing_mode(BillingMode::PayPerRequest);
            for (schema, definition) in key_schema(keys) {
                create = create.key_schema(schema).attribute_definitions(definition);
            }
            match create.send().await {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_in_use_exception()) => {}
                Err(e) => return Err(service(format!("create {table}"), &e)),
            }
        }
        super::history::create_table(self).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_have_the_original_tools_keys() {
        let tables = Tables::default();
        let layouts = layouts(&tables);
        assert_eq!(
            layouts[1],
            ("ScheduleServerGroup", &["ScheduleName", "GroupName"][..])
        );
        let schema = key_schema(layouts[1].1);
        assert_eq!(schema[0].0.key_type(), &KeyType::Hash);
        assert_eq!(schema[1].0.key_type(), &KeyType::Range);
        assert_eq!(schema[1].1.attribute_name(), "GroupName");
        assert_eq!(layouts[3], ("ScheduleState", &["Id"][..]));
    }
}
