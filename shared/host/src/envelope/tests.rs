use serde_json::{Value, json};
use time::macros::datetime;

use super::host_side::{QueueMessageProperties, queue_invocation, timer_invocation};
use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn queue_fixture_decodes_to_the_message_text_and_properties() {
    let request = InvocationRequest::parse(&fixture("queue-request.json")).expect("parse");
    let text = request.queue_message_text("msg").expect("text");
    let message: Value = serde_json::from_str(&text).expect("the message itself is JSON");
    assert_eq!(message["type"], "credit.purchase-requested");
    assert_eq!(message["amountCzk"], 200);
    let meta = request.queue_metadata().expect("metadata");
    assert_eq!(meta.id, "8d7a1c55-0b7e-4f3e-9a55-61f3c2e0d4a2", "the embedded quotes are removed");
    assert_eq!(meta.pop_receipt.as_deref(), Some("AgAAAAMAAAAAAAAAc2Lr1kNb3QE="));
    assert_eq!(meta.dequeue_count, 1, "DequeueCount arrives as a string");
    assert_eq!(meta.insertion_time.as_deref(), Some("2026-11-20T09:15:02+00:00"));
    // The message's own fields are copied into Metadata, strings quoted.
    assert_eq!(request.metadata["type"], "\"credit.purchase-requested\"");
    assert_eq!(request.metadata["amountCzk"], "200");
    assert_eq!(request.sys().map(|s| s.method_name).as_deref(), Some("PurchaseCredit"));
}

#[test]
fn the_local_host_encodes_queue_messages_as_the_real_host_does() {
    let captured = InvocationRequest::parse(&fixture("queue-request.json")).expect("parse");
    let text = captured.queue_message_text("msg").expect("text");
    let properties = QueueMessageProperties {
        id: "8d7a1c55-0b7e-4f3e-9a55-61f3c2e0d4a2".into(),
        pop_receipt: "AgAAAAMAAAAAAAAAc2Lr1kNb3QE=".into(),
        dequeue_count: 1,
        insertion_time: datetime!(2026-11-20 09:15:02 UTC),
        expiration_time: datetime!(2026-11-27 09:15:02 UTC),
        next_visible_time: datetime!(2026-11-20 09:25:03 UTC),
    };
    let ours = queue_invocation("PurchaseCredit", "msg", &text, &properties, datetime!(2026-11-20 09:15:03 UTC));
    assert_eq!(ours.data, captured.data, "Data is byte-compatible with the capture");
    for key in [
        "DequeueCount",
        "ExpirationTime",
        "Id",
        "InsertionTime",
        "NextVisibleTime",
        "PopReceipt",
        "id",
        "type",
        "subject",
        "amountCzk",
    ] {
        assert_eq!(ours.metadata.get(key), captured.metadata.get(key), "Metadata.{key}");
    }
    // Known difference: the host re-formats ISO dates in the copied message
    // fields with the machine's culture; we keep them as sent.
    assert_eq!(ours.metadata["requestedAt"], "\"2026-11-20T09:15:00Z\"");
}

#[test]
fn queue_invocations_round_trip_any_text() {
    let properties = QueueMessageProperties {
        id: "id-1".into(),
        pop_receipt: "pop\"quoted".into(),
        dequeue_count: 4,
        insertion_time: datetime!(2026-11-20 09:15:02 UTC),
        expiration_time: datetime!(2026-11-27 09:15:02 UTC),
        next_visible_time: datetime!(2026-11-20 09:25:03 UTC),
    };
    for text in ["plain", "abcd", "\"quoted\"", "Žluťoučký kůň", "{\"id\":\"x\",\"n\":[1,2]}", "", "5", "null"] {
        let request = queue_invocation("Fn", "message", text, &properties, datetime!(2026-11-20 09:15:03 UTC));
        let wire = serde_json::to_vec(&request).expect("serialise");
        let parsed = InvocationRequest::parse(&wire).expect("parse");
        assert_eq!(parsed.queue_message_text("message").expect("text"), text, "{text:?}");
        let meta = parsed.queue_metadata().expect("metadata");
        assert_eq!(
            (meta.id.as_str(), meta.pop_receipt.as_deref(), meta.dequeue_count),
            ("id-1", Some("pop\"quoted"), 4)
        );
    }
}

#[test]
fn timer_fixture_and_round_trip() {
    let info: TimerInfo = serde_json::from_slice(&fixture("timer-info.json")).expect("TimerInfo");
    assert!(!info.is_past_due);
    let status = info.schedule_status.clone().expect("monitored");
    assert_eq!(status.next, datetime!(2022-10-11 08:53 UTC), "offsets are honoured");
    assert_eq!(info.schedule.as_ref().map(|s| s.adjust_for_dst), Some(true));

    let request = timer_invocation("Housekeeping", "timer", &info, datetime!(2026-11-23 00:00 UTC));
    let wire = serde_json::to_vec(&request).expect("serialise");
    let parsed = InvocationRequest::parse(&wire).expect("parse");
    assert_eq!(parsed.timer_info("timer").expect("timer"), info);
    assert_eq!(parsed.metadata.keys().collect::<Vec<_>>(), ["sys"], "a timer's Metadata holds only sys");

    let unmonitored: TimerInfo =
        serde_json::from_value(json!({"Schedule": {"AdjustForDST": true}, "ScheduleStatus": null, "IsPastDue": true}))
            .expect("null ScheduleStatus");
    assert!(unmonitored.is_past_due && unmonitored.schedule_status.is_none());
}

#[test]
fn non_forwarded_http_request_fixture() {
    let request = InvocationRequest::parse(&fixture("http-request-not-forwarded.json")).expect("parse");
    let req = request.http_request("req").expect("req");
    assert_eq!((req.method.as_str(), req.url.as_str()), ("GET", "http://localhost:7071/api/SimpleHttpTrigger"));
    assert_eq!(req.headers["Accept"], json!(["*/*"]), "request headers are lists");
    assert_eq!(request.metadata["Headers"]["Accept"], "*/*", "metadata headers are flat");
    assert!(req.body.is_none(), "no Body when the request had none");
    assert_eq!(req.identities.len(), 1);
    let wire = serde_json::to_value(&req).expect("serialise");
    assert_eq!(serde_json::from_value::<HttpRequestData>(wire).expect("parse"), req);
}

#[test]
fn response_fixture_round_trips() {
    let response: InvocationResponse = serde_json::from_slice(&fixture("response.json")).expect("parse");
    assert_eq!(response.outputs["res"]["body"], "Message enqueued");
    assert_eq!(response.outputs["myQueueOutput"], json!(["queue message 1", "queue message 2"]));
    assert_eq!(response.logs, ["Log message 1", "Log message 2"]);
    assert_eq!(response.return_value, "{\"hello\":\"world\"}");
    let wire = serde_json::to_vec(&response).expect("serialise");
    assert_eq!(serde_json::from_slice::<InvocationResponse>(&wire).expect("parse"), response);
}

#[test]
fn retry_context_is_read_when_present() {
    let request: InvocationRequest = serde_json::from_value(json!({
        "Data": {"timer": {"IsPastDue": false}},
        "Metadata": {"RetryContext": {"RetryCount": 1, "MaxRetryCount": 2, "Exception": null}, "sys": {"MethodName": "F", "UtcNow": "x", "RandGuid": "y"}}
    }))
    .expect("parse");
    assert_eq!(request.retry_context(), Some(RetryContext { retry_count: 1, max_retry_count: 2, exception: None }));
}

#[test]
fn malformed_envelopes_say_what_is_wrong() {
    assert!(matches!(InvocationRequest::parse(b"{not json"), Err(EnvelopeError::NotJson(_))));
    let request: InvocationRequest =
        serde_json::from_value(json!({"Data": {}, "Metadata": {"Id": "\"x\"", "DequeueCount": "many"}}))
            .expect("parse");
    assert!(
        matches!(request.queue_message_text("message"), Err(EnvelopeError::MissingBinding(name)) if name == "message")
    );
    assert!(matches!(request.queue_metadata(), Err(EnvelopeError::BadMetadata("DequeueCount"))));
    let timer: InvocationRequest = serde_json::from_value(json!({"Data": {"timer": 5}})).expect("parse");
    assert!(matches!(timer.timer_info("timer"), Err(EnvelopeError::WrongShape { .. })));
}
