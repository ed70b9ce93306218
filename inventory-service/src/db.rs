//! Products and reservations in Postgres, each statement in a CLIENT span.
//!
//! Stock never goes negative, however many orders race for the last item:
//! a reservation is a single conditional `UPDATE ... WHERE stock >= $n`.
//! Postgres locks the row for the update, so concurrent reservations queue
//! up on it and each sees the stock the previous one left.

use serde::Serialize;
use service_kit::postgres::{Database, DbError};
use sqlx::FromRow;
use telemetry::db::{postgres, traced};

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Product {
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub stock: i32,
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Reservation {
    pub reservation_id: i64,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub quantity: i32,
}

/// What can go wrong with products and reservations, in the data's own
/// terms: which case it is, not what it means over HTTP (`error.rs` decides
/// the status and the sentence the client reads).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No product has this name or SKU.
    #[error("no product {0:?}")]
    UnknownProduct(String),
    /// The product exists, with less stock than asked for.
    #[error("{sku}: {requested} asked for, {available} in stock")]
    NotEnoughStock {
        sku: String,
        requested: i32,
        available: i32,
    },
    /// Postgres failed, or is out of reach.
    #[error(transparent)]
    Database(#[from] DbError),
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        Error::Database(error.into())
    }
}

const LIST: &str = "SELECT sku, name, price_cents, stock FROM products ORDER BY sku";
const FIND: &str = "SELECT sku, name, price_cents, stock FROM products \
                    WHERE upper(sku) = upper($1) OR lower(name) = lower($1)";
const FIND_MANY: &str = "SELECT sku, name, price_cents, stock FROM products \
                         WHERE upper(sku) = ANY($1)";
const TAKE_STOCK: &str = "UPDATE products SET stock = stock - $2 \
                          WHERE (upper(sku) = upper($1) OR lower(name) = lower($1)) AND stock >= $2 \
                          RETURNING sku, name, price_cents, stock";
const INSERT_RESERVATION: &str =
    "INSERT INTO reservations (sku, quantity) VALUES ($1, $2) RETURNING id";
const DELETE_RESERVATION: &str = "DELETE FROM reservations WHERE id = $1 RETURNING sku, quantity";
const RETURN_STOCK: &str = "UPDATE products SET stock = stock + $2 WHERE sku = $1";

pub async fn list_products(db: &Database) -> Result<Vec<Product>, Error> {
    let span = postgres("SELECT", "products", LIST, &db.peer);
    Ok(traced(span, sqlx::query_as(LIST).fetch_all(&db.pool)).await?)
}

/// The products with these SKUs (any case), in the order asked for; unknown
/// SKUs are left out. One query, however many SKUs.
pub async fn find_products(db: &Database, skus: &[String]) -> Result<Vec<Product>, Error> {
    let span = postgres("SELECT", "products", FIND_MANY, &db.peer);
    let upper: Vec<String> = skus.iter().map(|sku| sku.to_uppercase()).collect();
    let query = sqlx::query_as::<_, Product>(FIND_MANY)
        .bind(&upper)
        .fetch_all(&db.pool);
    let mut found = traced(span, query).await?;
    found.sort_by_key(|product| {
        upper
            .iter()
            .position(|sku| *sku == product.sku.to_uppercase())
    });
    Ok(found)
}

/// A product by name (any case) or SKU.
pub async fn find_product(db: &Database, product: &str) -> Result<Option<Product>, Error> {
    let span = postgres("SELECT", "products", FIND, &db.peer);
    let query = sqlx::query_as(FIND).bind(product).fetch_optional(&db.pool);
    Ok(traced(span, query).await?)
}

/// Takes `quantity` of `product` out of stock and records the reservation,
/// in one transaction: either both happen or neither.
pub async fn reserve(db: &Database, product: &str, quantity: i32) -> Result<Reservation, Error> {
    let mut tx = db.pool.begin().await?;

    let span = postgres("UPDATE", "products", TAKE_STOCK, &db.peer);
    let query = sqlx::query_as::<_, Product>(TAKE_STOCK)
        .bind(product)
        .bind(quantity)
        .fetch_optional(&mut *tx);
    let Some(taken) = traced(span, query).await? else {
        // Nothing updated: the product is unknown, or its stock is short.
        tx.rollback().await?;
        return Err(match find_product(db, product).await? {
            None => Error::UnknownProduct(product.to_string()),
            Some(found) => Error::NotEnoughStock {
                sku: found.sku,
                requested: quantity,
                available: found.stock,
            },
        });
    };

    let span = postgres("INSERT", "reservations", INSERT_RESERVATION, &db.peer);
    let query = sqlx::query_scalar::<_, i64>(INSERT_RESERVATION)
        .bind(&taken.sku)
        .bind(quantity)
        .fetch_one(&mut *tx);
    let reservation_id = traced(span, query).await?;
    tx.commit().await?;

    Ok(Reservation {
        reservation_id,
        sku: taken.sku,
        name: taken.name,
        price_cents: taken.price_cents,
        quantity,
    })
}

/// Gives a reservation's quantity back to stock. `None` if it does not exist.
pub async fn release(db: &Database, reservation_id: i64) -> Result<Option<(String, i32)>, Error> {
    let mut tx = db.pool.begin().await?;
    let span = postgres("DELETE", "reservations", DELETE_RESERVATION, &db.peer);
    let query = sqlx::query_as::<_, (String, i32)>(DELETE_RESERVATION)
        .bind(reservation_id)
        .fetch_optional(&mut *tx);
    let Some((sku, quantity)) = traced(span, query).await? else {
        return Ok(None);
    };
    let span = postgres("UPDATE", "products", RETURN_STOCK, &db.peer);
    let query = sqlx::query(RETURN_STOCK)
        .bind(&sku)
        .bind(quantity)
        .execute(&mut *tx);
    traced(span, query).await?;
    tx.commit().await?;
    Ok(Some((sku, quantity)))
}
