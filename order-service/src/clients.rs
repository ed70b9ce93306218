//! Calls to user-service and inventory-service. Each call is a CLIENT span
//! (made by `telemetry::client::HttpClient`), whose `traceparent` header
//! makes the other service's SERVER span its child.

use serde::{Deserialize, Serialize};
use service_kit::downstream::{read_json, CallError};
use telemetry::client::HttpClient;

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

#[derive(Debug, Serialize)]
struct ReservationRequest<'a> {
    product: &'a str,
    quantity: i32,
}

/// The two services order-service depends on.
#[derive(Clone, Debug)]
pub struct Downstream {
    pub http: HttpClient,
    pub user_service_url: String,
    pub inventory_service_url: String,
}

impl Downstream {
    /// `GET {user-service}/users/{id}`.
    pub async fn get_user(&self, user_id: i64) -> Result<User, CallError> {
        let url = format!("{}/users/{user_id}", self.user_service_url);
        let request = self.http.reqwest().get(url).build();
        read_json("user-service", self.send(request).await).await
    }

    /// `POST {inventory-service}/inventory/reservations`.
    pub async fn reserve(&self, product: &str, quantity: i32) -> Result<Reservation, CallError> {
        let url = format!("{}/inventory/reservations", self.inventory_service_url);
        let request = self
            .http
            .reqwest()
            .post(url)
            .json(&ReservationRequest { product, quantity })
            .build();
        read_json("inventory-service", self.send(request).await).await
    }

    /// `DELETE {inventory-service}/inventory/reservations/{id}`: undo a
    /// reservation whose order could not be saved.
    pub async fn release(&self, reservation_id: i64) -> Result<(), CallError> {
        let url = format!(
            "{}/inventory/reservations/{reservation_id}",
            self.inventory_service_url
        );
        let request = self.http.reqwest().delete(url).build();
        let response = self
            .send(request)
            .await
            .map_err(|error| CallError::Unreachable {
                service: "inventory-service",
                detail: error.to_string(),
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(CallError::Failed {
                service: "inventory-service",
                message: "it could not release a reservation".to_string(),
                detail: format!("DELETE reservation {reservation_id} answered HTTP {status}"),
            })
        }
    }

    async fn send(
        &self,
        request: reqwest::Result<reqwest::Request>,
    ) -> reqwest::Result<reqwest::Response> {
        self.http.send(request?).await
    }
}
