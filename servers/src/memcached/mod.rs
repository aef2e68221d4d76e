//! The memcached reference server (being written).
