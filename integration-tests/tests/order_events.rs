//! Across a queue: the order's event goes through the outbox and the Redis
//! stream to user-service, inside the order's trace, exactly once, whatever
//! is down (docs/architecture.md, "Across a queue").

use std::collections::HashMap;
use std::time::Duration;

use integration_tests::{
    database_server_url, drop_databases, drop_streams, has_event, redis_url, unique_name,
    CollectedSpan, RedisProxy, StackOptions, TestStack, GATEWAY, ORDER, USER,
};
use opentelemetry::trace::{SpanId, SpanKind};
use opentelemetry::Value;
use opentelemetry_sdk::trace::Sampler;
use redis::streams::{StreamId, StreamRangeReply};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(15);

/// Polls `check` every 100 ms until it is true; panics with `what` after `timeout`.
async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `GET {user-service}/users/{id}` → (orders_count, points).
async fn counts(stack: &TestStack, id: i64) -> (i64, i64) {
    let (status, body, _) = stack.get(&format!("{}/users/{id}", stack.url(USER))).await;
    assert_eq!(status, 200, "{body}");
    (
        body["orders_count"].as_i64().expect("integer orders_count"),
        body["points"].as_i64().expect("integer points"),
    )
}

async fn wait_for_count(stack: &TestStack, id: i64, expected: i64) {
    wait_until(
        WAIT,
        &format!("user {id} to have {expected} orders"),
        || async { counts(stack, id).await.0 == expected },
    )
    .await;
}

/// Every entry of a stream, fields as strings.
async fn entries(
    connection: &mut redis::aio::MultiplexedConnection,
    key: &str,
) -> Vec<(String, HashMap<String, String>)> {
    let reply: StreamRangeReply = redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query_async(connection)
        .await
        .unwrap();
    reply.ids.into_iter().map(as_strings).collect()
}

fn as_strings(entry: StreamId) -> (String, HashMap<String, String>) {
    let fields = entry
        .map
        .iter()
        .map(|(k, v)| (k.clone(), redis::from_redis_value_ref::<String>(v).unwrap()))
        .collect();
    (entry.id, fields)
}

async fn xadd(
    connection: &mut redis::aio::MultiplexedConnection,
    key: &str,
    fields: &[(&str, String)],
) -> String {
    let mut xadd = redis::cmd("XADD");
    xadd.arg(key).arg("*");
    for (name, value) in fields {
        xadd.arg(*name).arg(value);
    }
    xadd.query_async(connection).await.unwrap()
}

/// The fields of a well-formed event, without trace context.
fn event_fields(order_id: i64, user_id: i64, total_cents: i64) -> Vec<(&'static str, String)> {
    vec![
        ("event", "order.confirmed".to_string()),
        ("order_id", order_id.to_string()),
        ("user_id", user_id.to_string()),
        ("sku", "MOUSE-001".to_string()),
        ("quantity", "1".to_string()),
        ("total_cents", total_cents.to_string()),
    ]
}

fn children<'a>(spans: &'a [CollectedSpan], parent: &CollectedSpan) -> Vec<&'a CollectedSpan> {
    spans
        .iter()
        .filter(|s| s.parent_id() == parent.span_id())
        .collect()
}

fn string_attr(span: &CollectedSpan, key: &str) -> String {
    match span.attr(key) {
        Some(Value::String(s)) => s.to_string(),
        other => panic!("{} has {key} = {other:?}", span.name()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_order_is_one_trace_from_the_request_to_the_consumer() {
    let stack = TestStack::start().await;
    let (status, body) = stack.order("Laptop").await;
    assert_eq!(status, 201, "{body}");
    let order_id = body["order_id"].as_i64().unwrap();
    let trace_id = body["trace_id"].as_str().unwrap();
    let trace = stack.wait_for_span(trace_id, USER, "DEL", WAIT).await;

    let roots = trace.roots();
    assert_eq!(roots.len(), 1, "one root: {}", trace.describe());
    assert_eq!(roots[0].service, GATEWAY);

    // The outbox row is written in the order's transaction, under save_order.
    let save = trace.one(ORDER, "save_order");
    let outbox = trace.one(ORDER, "INSERT order_events");
    assert_eq!(outbox.kind(), &SpanKind::Client);
    assert_eq!(outbox.parent_id(), save.span_id());
    assert_eq!(
        outbox.attr("db.system.name"),
        Some(&Value::from("postgresql"))
    );
    assert_eq!(
        outbox.attr("db.collection.name"),
        Some(&Value::from("order_events"))
    );

    // The relay's PRODUCER span continues the context stored with the row.
    let producer = trace.one(ORDER, "send orders");
    assert_eq!(producer.kind(), &SpanKind::Producer);
    assert_eq!(producer.parent_id(), save.span_id(), "{}", trace.describe());
    assert_eq!(
        producer.attr("messaging.system"),
        Some(&Value::from("redis"))
    );
    assert_eq!(
        producer.attr("messaging.destination.name"),
        Some(&Value::from("orders")),
        "the bare name, never the prefixed key"
    );
    assert_eq!(
        producer.attr("messaging.operation.type"),
        Some(&Value::from("send"))
    );
    assert_eq!(
        producer.attr("messaging.operation.name"),
        Some(&Value::from("send"))
    );
    assert_eq!(producer.attr("order.id"), Some(&Value::I64(order_id)));
    let message_id = string_attr(producer, "messaging.message.id");

    // The CONSUMER span is the PRODUCER's child, across processes.
    let consumer = trace.one(USER, "process orders");
    assert_eq!(consumer.kind(), &SpanKind::Consumer);
    assert_eq!(consumer.parent_id(), producer.span_id());
    assert!(consumer.data.parent_span_is_remote);
    assert_eq!(
        consumer.attr("messaging.operation.type"),
        Some(&Value::from("process"))
    );
    assert_eq!(
        consumer.attr("messaging.operation.name"),
        Some(&Value::from("process"))
    );
    assert_eq!(
        consumer.attr("messaging.consumer.group.name"),
        Some(&Value::from("user-service"))
    );
    assert_eq!(
        consumer.attr("messaging.destination.name"),
        Some(&Value::from("orders"))
    );
    assert_eq!(string_attr(consumer, "messaging.message.id"), message_id);
    assert_eq!(consumer.attr("order.id"), Some(&Value::I64(order_id)));

    // Under it: the update and the cache entry's deletion.
    let update = trace.one(USER, "UPDATE users");
    assert_eq!(update.parent_id(), consumer.span_id());
    assert_eq!(update.kind(), &SpanKind::Client);
    let del = trace.one(USER, "DEL");
    assert_eq!(del.parent_id(), consumer.span_id());
    assert_eq!(del.attr("db.system.name"), Some(&Value::from("redis")));
    assert!(
        trace.spans.iter().all(|s| !s.is_error()),
        "{}",
        trace.describe()
    );

    // The entry: the contract's fields, the PRODUCER span's own context.
    let mut redis = stack.redis().await;
    let stream = entries(&mut redis, &stack.stream_key()).await;
    assert_eq!(stream.len(), 1);
    let (id, fields) = &stream[0];
    assert_eq!(id, &message_id);
    assert_eq!(fields["event"], "order.confirmed");
    assert_eq!(fields["order_id"], order_id.to_string());
    assert_eq!(fields["user_id"], "1");
    assert_eq!(fields["sku"], "LAPTOP-001");
    assert_eq!(fields["quantity"], "1");
    assert_eq!(fields["total_cents"], "129900");
    assert_eq!(
        fields["traceparent"],
        format!("00-{trace_id}-{}-01", producer.span_id())
    );

    // Fresh at once: the cache entry was deleted. Points: 129900 / 100.
    assert_eq!(counts(&stack, 1).await, (1, 1299));
    let orders = stack.database("orders").await;
    let unpublished: i64 =
        sqlx::query_scalar("SELECT count(*) FROM order_events WHERE published_at IS NULL")
            .fetch_one(&orders)
            .await
            .unwrap();
    assert_eq!(unpublished, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_during_orders_delays_events_but_loses_none() {
    let proxy = RedisProxy::start(&redis_url()).await;
    let stack = TestStack::start_with(StackOptions {
        redis_url: Some(proxy.url()),
        ..StackOptions::default()
    })
    .await;
    proxy.down().await;

    for _ in 0..3 {
        let (status, body) = stack.order("Mouse").await;
        assert_eq!(status, 201, "Redis down never fails an order: {body}");
    }
    let (status, health, _) = stack.get(&format!("{}/health", stack.url(ORDER))).await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "degraded", "{health}");

    let orders = stack.database("orders").await;
    let waiting = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM order_events WHERE published_at IS NULL")
            .fetch_one(&orders)
            .await
            .unwrap()
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(waiting().await, 3, "the events wait in the outbox");
    assert!(
        stack.log_lines().iter().any(|l| l["service"] == ORDER
            && l["message"]
                .as_str()
                .unwrap_or("")
                .contains("cannot publish order events")),
        "the relay says why events wait"
    );

    proxy.up().await;
    wait_for_count(&stack, 1, 3).await;
    assert_eq!(waiting().await, 0);
    let mut redis = stack.redis().await;
    assert_eq!(entries(&mut redis, &stack.stream_key()).await.len(), 3);
    let (_, health, _) = stack.get(&format!("{}/health", stack.url(ORDER))).await;
    assert_eq!(health["status"], "ok", "{health}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_event_is_counted_once() {
    let stack = TestStack::start().await;
    let body = json!({"user_id": "4", "product": "Mouse", "quantity": 2});
    let (status, body, _) = stack.post_json("/orders", &body).await;
    assert_eq!(status, 201, "{body}");
    let trace_id = body["trace_id"].as_str().unwrap();
    stack.wait_for_span(trace_id, USER, "DEL", WAIT).await;
    let before = counts(&stack, 4).await;
    assert_eq!(before.0, 1);

    // The same event again, as a relay that crashed before marking the row
    // published would send it.
    let mut redis = stack.redis().await;
    let (_, fields) = entries(&mut redis, &stack.stream_key()).await.remove(0);
    let copy: Vec<(&str, String)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    xadd(&mut redis, &stack.stream_key(), &copy).await;

    let trace = stack
        .wait_until_trace(trace_id, WAIT, |t| {
            t.find(USER, "process orders").len() == 2
        })
        .await;
    let duplicate = trace
        .find(USER, "process orders")
        .into_iter()
        .find(|s| has_event(&s.data, "message.duplicate"))
        .unwrap_or_else(|| panic!("a span with message.duplicate: {}", trace.describe()));
    assert!(
        children(&trace.spans, duplicate).is_empty(),
        "a duplicate does no work"
    );
    assert_eq!(trace.find(USER, "UPDATE users").len(), 1);
    assert_eq!(counts(&stack, 4).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_entries_are_dead_lettered_and_the_consumer_goes_on() {
    let stack = TestStack::start().await;
    let mut redis = stack.redis().await;
    let key = stack.stream_key();
    let mut missing_sku = event_fields(900_001, 5, 1000);
    missing_sku.retain(|(k, _)| *k != "sku");
    let mut bad_order_id = event_fields(900_002, 5, 1000);
    bad_order_id[1].1 = "abc".to_string();
    let negative_total = event_fields(900_003, 5, -5);
    let zero_user = event_fields(900_004, 0, 1000);
    let mut ids = Vec::new();
    for fields in [&missing_sku, &bad_order_id, &negative_total, &zero_user] {
        ids.push(xadd(&mut redis, &key, fields).await);
    }

    // Still alive: a real order is counted.
    let body = json!({"user_id": "5", "product": "Mouse", "quantity": 1});
    let (status, body, _) = stack.post_json("/orders", &body).await;
    assert_eq!(status, 201, "{body}");
    wait_for_count(&stack, 5, 1).await;

    let dead = entries(&mut redis, &format!("{key}.dead")).await;
    assert_eq!(dead.len(), 4, "{dead:?}");
    for ((_, fields), id) in dead.iter().zip(&ids) {
        assert_eq!(&fields["original_id"], id);
        assert!(!fields["reason"].is_empty());
        assert_eq!(fields["event"], "order.confirmed", "original fields kept");
    }
    assert_eq!(dead[0].1["reason"], "field sku is missing");
    assert!(dead[1].1["reason"].contains("order_id"), "{:?}", dead[1].1);
    let pending: redis::streams::StreamPendingReply = redis::cmd("XPENDING")
        .arg(&key)
        .arg("user-service")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(pending.count(), 0, "malformed entries are acknowledged");
    let logged = stack
        .log_lines()
        .into_iter()
        .filter(|l| l["message"] == "malformed order event moved to the dead-letter stream")
        .count();
    assert_eq!(logged, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_without_traceparent_is_processed_under_a_new_trace() {
    let stack = TestStack::start().await;
    let mut redis = stack.redis().await;
    let mut fields = event_fields(900_010, 6, 4999);
    fields.push(("traceparent", "00-garbage-01".to_string()));
    xadd(
        &mut redis,
        &stack.stream_key(),
        &event_fields(900_011, 6, 4999),
    )
    .await;
    xadd(&mut redis, &stack.stream_key(), &fields).await;
    wait_for_count(&stack, 6, 2).await;
    assert_eq!(counts(&stack, 6).await.1, 2 * 49);

    let consumers: Vec<CollectedSpan> = stack
        .spans(USER)
        .into_iter()
        .filter(|s| s.name() == "process orders")
        .collect();
    assert_eq!(consumers.len(), 2);
    for span in &consumers {
        assert_eq!(span.parent_id(), SpanId::INVALID, "a new root");
    }
    let logged = stack
        .log_lines()
        .into_iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .unwrap_or("")
                .contains("without a valid traceparent")
        })
        .count();
    assert_eq!(logged, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sampled_out_order_is_not_traced_downstream_either() {
    let stack = TestStack::start_with(StackOptions {
        gateway_sampler: Box::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOff))),
        ..StackOptions::default()
    })
    .await;
    let (status, body) = stack.order("Keyboard").await;
    assert_eq!(status, 201, "{body}");
    // Read the count from Postgres: a `GET /users/1` from here would be a
    // new (sampled) root trace in user-service.
    let users = stack.database("users").await;
    wait_until(WAIT, "the order to be counted", || async {
        sqlx::query_scalar::<_, i64>("SELECT orders_count FROM users WHERE id = 1")
            .fetch_one(&users)
            .await
            .unwrap()
            == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (service, count) in stack.span_counts() {
        assert_eq!(count, 0, "{service} recorded spans of a sampled-out order");
    }
    // The entry still carries the (unsampled) context.
    let mut redis = stack.redis().await;
    let (_, fields) = entries(&mut redis, &stack.stream_key()).await.remove(0);
    assert!(fields["traceparent"].ends_with("-00"), "{fields:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_pollers_make_no_traces() {
    let stack = TestStack::start().await;
    // The relay polls every 200 ms, the consumer reads every 250 ms.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for (service, count) in stack.span_counts() {
        assert_eq!(count, 0, "{service} traced its polling");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_of_a_consumer_that_died_mid_entry_are_taken_over() {
    let stack = TestStack::start_with(StackOptions {
        claim_idle: Some(Duration::from_secs(1)),
        ..StackOptions::default()
    })
    .await;
    let mut redis = stack.redis().await;
    let key = stack.stream_key();
    let trace_id = "5bf92f3577b34da6a3ce929d0e0e4736";
    let mut fields = event_fields(900_020, 7, 2500);
    fields.push(("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01")));

    // Another consumer reads the entry and dies before acknowledging it.
    // One transaction, so the live consumer cannot read it first.
    let mut xadd = redis::cmd("XADD");
    xadd.arg(&key).arg("*");
    for (name, value) in &fields {
        xadd.arg(*name).arg(value);
    }
    let _: redis::Value = redis::pipe()
        .atomic()
        .add_command(xadd)
        .cmd("XREADGROUP")
        .arg("GROUP")
        .arg("user-service")
        .arg("crashed-consumer")
        .arg("COUNT")
        .arg(10)
        .arg("STREAMS")
        .arg(&key)
        .arg(">")
        .query_async(&mut redis)
        .await
        .unwrap();
    let pending: redis::streams::StreamPendingReply = redis::cmd("XPENDING")
        .arg(&key)
        .arg("user-service")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(pending.count(), 1, "the dead consumer holds the entry");

    wait_for_count(&stack, 7, 1).await;
    let trace = stack
        .wait_until_trace(trace_id, WAIT, |t| {
            !t.find(USER, "process orders").is_empty()
        })
        .await;
    let consumer = trace.one(USER, "process orders");
    assert_eq!(consumer.parent_id().to_string(), "00f067aa0ba902b7");
    wait_until(WAIT, "no pending entries", || async {
        let (_, health, _) = stack.get(&format!("{}/health", stack.url(USER))).await;
        health["consumer_pending"] == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_consumer_group_is_created_again() {
    let stack = TestStack::start().await;
    let (status, _) = stack.order("Mouse").await;
    assert_eq!(status, 201);
    wait_for_count(&stack, 1, 1).await;

    // As after a Redis restart without its data: the group is gone.
    let mut redis = stack.redis().await;
    let _: i64 = redis::cmd("XGROUP")
        .arg("DESTROY")
        .arg(stack.stream_key())
        .arg("user-service")
        .query_async(&mut redis)
        .await
        .unwrap();

    let (status, _) = stack.order("Mouse").await;
    assert_eq!(status, 201);
    wait_for_count(&stack, 1, 2).await;
    // The new group starts at 0: the first entry comes again, as a duplicate.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(counts(&stack, 1).await.0, 2);
    assert!(stack.log_lines().iter().any(|l| l["message"]
        .as_str()
        .unwrap_or("")
        .contains("creating it again")));
}

/// user-service alone, against a fresh database and Redis prefix; returns
/// a handle that stops it (as SIGTERM does) and waits for it.
async fn start_user_service(
    database: &str,
    prefix: &str,
    name: &str,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let config = user_service::Config {
        port: 0,
        database: service_kit::postgres::DatabaseConfig {
            url: format!("{}/{database}", database_server_url()),
            max_connections: 2,
        },
        redis_url: redis_url(),
        redis_key_prefix: prefix.to_string(),
        cache_ttl_seconds: 60,
        consumer_name: name.to_string(),
        claim_idle: user_service::consumer::CLAIM_IDLE,
    };
    let app = user_service::Application::build(config).await.unwrap();
    assert!(app.wait_ready(Duration::from_secs(60)).await);
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    (base, stop, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_sent_while_user_service_is_down_are_processed_when_it_returns() {
    let database = unique_name("ws_queue_users");
    let prefix = format!("{database}:");
    let key = format!("{prefix}orders");
    let users = || async {
        sqlx::PgPool::connect(&format!("{}/{database}", database_server_url()))
            .await
            .unwrap()
    };

    // First life: it starts (creating the group), then stops.
    let (_, stop, server) = start_user_service(&database, &prefix, "instance-a").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopping = std::time::Instant::now();
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    assert!(
        stopping.elapsed() < Duration::from_secs(2),
        "the consumer stops at once when idle: {:?}",
        stopping.elapsed()
    );

    // Down: three events arrive, as order-service's relay sends them. The
    // group stays (it keeps them); the idle consumer left it on the way out.
    let mut redis = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let consumers: redis::streams::StreamInfoConsumersReply = redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(&key)
        .arg("user-service")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(consumers.consumers.is_empty(), "{consumers:?}");
    for order_id in [900_031, 900_032, 900_033] {
        xadd(&mut redis, &key, &event_fields(order_id, 8, 1250)).await;
    }
    let pool = users().await;
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT orders_count FROM users WHERE id = 8")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(count().await, 0);

    // Back (another instance): the waiting events are processed.
    let (base, stop, server) = start_user_service(&database, &prefix, "instance-b").await;
    wait_until(WAIT, "three orders counted", || async {
        count().await == 3
    })
    .await;
    let user: serde_json::Value = reqwest::get(format!("{base}/users/8"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (user["orders_count"].clone(), user["points"].clone()),
        (json!(3), json!(36))
    );
    wait_until(WAIT, "nothing pending", || async {
        let health: serde_json::Value = reqwest::get(format!("{base}/health"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        health["consumer_pending"] == 0
    })
    .await;

    let _ = stop.send(());
    server.await.unwrap().unwrap();
    pool.close().await;
    drop_databases(vec![database]);
    drop_streams(&prefix);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baggage_travels_with_the_event_but_faults_do_not() {
    let stack = TestStack::start().await;
    let response = stack
        .client
        .post(format!(
            "{}/orders?delay=20&delay_at=user-service",
            stack.url(GATEWAY)
        ))
        .header("baggage", "request.source=queue-test")
        .json(&json!({"user_id": "9", "product": "Mouse", "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    let trace = stack
        .wait_for_trace(body["trace_id"].as_str().unwrap(), WAIT)
        .await;
    // The request's own user-service call was delayed...
    assert!(has_event(
        &trace.one(USER, "GET /users/{id}").data,
        "fault.delay_injected"
    ));
    // ... the consumer, working on the event later, is not.
    let consumer = trace.one(USER, "process orders");
    assert!(!has_event(&consumer.data, "fault.delay_injected"));

    let orders = stack.database("orders").await;
    let stored: Option<String> = sqlx::query_scalar("SELECT baggage FROM order_events")
        .fetch_one(&orders)
        .await
        .unwrap();
    let stored = stored.expect("the order's baggage is stored with the event");
    assert!(stored.contains("request.source=queue-test"), "{stored}");
    let mut redis = stack.redis().await;
    let (_, fields) = entries(&mut redis, &stack.stream_key()).await.remove(0);
    assert!(
        fields["baggage"].contains("request.source=queue-test"),
        "{fields:?}"
    );
    assert!(!fields["baggage"].contains("fault."), "{fields:?}");
}
