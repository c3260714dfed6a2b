//! Where schedules come from: files in `schedules/` (and, in production, DynamoDB).

pub mod files;
