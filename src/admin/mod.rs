//! The admin HTTP port: health, readiness, Prometheus metrics, the status document and runtime
//! control, for operators, load balancers, Prometheus and `kiwictl`.

pub mod status;
