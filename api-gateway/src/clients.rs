//! The one service the gateway calls. Each call is a CLIENT span (made by
//! `telemetry::client::ServiceClient`), whose `traceparent` header makes
//! order-service's SERVER span its child.

use serde_json::Value;
use telemetry::client::{CallError, ServiceClient};
use telemetry::fault::FaultPlan;

/// order-service: where every order goes.
#[derive(Clone, Debug)]
pub struct OrderService(pub ServiceClient);

impl OrderService {
    /// `POST /orders` with the client's body as it came.
    pub async fn create_order(&self, body: &Value, plan: &FaultPlan) -> Result<Value, CallError> {
        self.with_faults(plan).post_json("/orders", body).await
    }

    /// `GET /orders/{id}`.
    pub async fn get_order(&self, id: i64, plan: &FaultPlan) -> Result<Value, CallError> {
        self.with_faults(plan)
            .get_json(&format!("/orders/{id}"))
            .await
    }

    /// `GET /orders?user_id={id}`: the user's order history.
    pub async fn orders_of_user(&self, user_id: i64, plan: &FaultPlan) -> Result<Value, CallError> {
        self.with_faults(plan)
            .get_json(&format!("/orders?user_id={user_id}"))
            .await
    }

    /// The client, sending the fault plan (`?delay=`, `?fail=`) as baggage.
    // LESSON 06: baggage set here is readable in every service downstream.
    fn with_faults(&self, plan: &FaultPlan) -> ServiceClient {
        self.0.with_baggage(plan.to_baggage())
    }
}
