//! Integration tests of the bus plumbing against a real RabbitMQ.
//!
//! Each test declares its own topology under a random prefix, so tests run in
//! parallel on one broker without seeing each other's messages. The one test
//! that closes connections does it in a vhost of its own.

mod bus;
mod helpers;
mod observe;
mod stream;
