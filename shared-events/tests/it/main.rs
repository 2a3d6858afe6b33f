//! Integration tests of the bus plumbing against a real RabbitMQ.
//!
//! Each test declares its own topology under a random prefix, so tests run in
//! parallel on one broker without seeing each other's messages. The one test
//! that closes connections does it in a vhost of its own; `cluster` starts a private three-node cluster
//! of its own to kill one of its nodes. `decode_props` needs no
//! broker: property tests of the decoders on arbitrary input.

mod bus;
mod cluster;
mod decode_props;
mod helpers;
mod observe;
mod stream;
