//! The rabbitmq secrets engine: roles (`<mount>roles/<name>`), the lease config
//! (`<mount>config/lease`), and its connection config (`<mount>config/connection`), which the API
//! never reads back: it travels only as a whole body kept in the escrow, and is otherwise reported
//! as not copied.

mod connection;
mod lease;
mod role;

pub use connection::RabbitmqConnection;
pub use lease::RabbitmqLease;
pub use role::RabbitmqRole;
