//! NATS configuration format parser.
