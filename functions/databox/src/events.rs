//! Events this capability publishes; the envelope and queues are shared
//! (`portal-events`), the kinds are named there too so consumers agree.

pub use portal_events::kinds::{
    ARCHIVE_FINISHED, CREDIT_LOW, CREDIT_PURCHASE_CONFIRMED, CREDIT_PURCHASE_DECLINED, DEEMED_DELIVERY_DATE,
    DEEMED_DELIVERY_WARNING, MESSAGE_ARCHIVED, NEW_MESSAGE, RECEIPT_ISSUED,
};
pub use portal_events::{CALENDAR_QUEUE, DOCUMENTS_QUEUE, Event, NOTIFICATIONS_QUEUE, publish};
