//! The two services order-service calls. Each call is a CLIENT span (made
//! by `telemetry::client::ServiceClient`), whose `traceparent` header makes
//! the other service's SERVER span its child.

use serde::{Deserialize, Serialize};
use telemetry::client::{CallError, ServiceClient};

/// A user as user-service returns it (fields we use).
#[derive(Debug, Deserialize)]
pub struct User {
    pub id: String,
    pub tier: String,
}

/// A reservation as inventory-service returns it.
#[derive(Debug, Deserialize)]
pub struct Reservation {
    pub reservation_id: i64,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub quantity: i32,
}

/// A product as inventory-service returns it (fields we use).
#[derive(Debug, Deserialize)]
pub struct Product {
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
}

#[derive(Debug, Serialize)]
struct ReservationRequest<'a> {
    product: &'a str,
    quantity: i32,
}

/// user-service: who is ordering.
#[derive(Clone, Debug)]
pub struct UserService(pub ServiceClient);

impl UserService {
    /// `GET /users/{id}`.
    pub async fn get_user(&self, user_id: i64) -> Result<User, CallError> {
        self.0.get_json(&format!("/users/{user_id}")).await
    }
}

/// inventory-service: stock and reservations.
#[derive(Clone, Debug)]
pub struct InventoryService(pub ServiceClient);

impl InventoryService {
    /// `POST /inventory/reservations`: take stock for an order.
    pub async fn reserve(&self, product: &str, quantity: i32) -> Result<Reservation, CallError> {
        let body = ReservationRequest { product, quantity };
        self.0.post_json("/inventory/reservations", &body).await
    }

    /// `GET /inventory?skus=A,B,...`: many products in one call.
    pub async fn products(&self, skus: &[&str]) -> Result<Vec<Product>, CallError> {
        let list: String =
            url::form_urlencoded::byte_serialize(skus.join(",").as_bytes()).collect();
        self.0.get_json(&format!("/inventory?skus={list}")).await
    }

    /// `GET /inventory/{sku}`: one product. The order history does not use
    /// it (one call for all products is the point); lesson 08's exercise
    /// does, once per order, to make the N+1 the lesson finds.
    pub async fn product(&self, sku: &str) -> Result<Product, CallError> {
        let sku: String = url::form_urlencoded::byte_serialize(sku.as_bytes()).collect();
        self.0.get_json(&format!("/inventory/{sku}")).await
    }

    /// `DELETE /inventory/reservations/{id}`: undo a reservation whose
    /// order could not be saved.
    pub async fn release(&self, reservation_id: i64) -> Result<(), CallError> {
        self.0
            .delete(&format!("/inventory/reservations/{reservation_id}"))
            .await
    }
}
