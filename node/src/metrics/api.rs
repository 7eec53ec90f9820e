//! Requests of the public APIs: REST (by method, route template and status, Qdrant's
//! names) and gRPC (by service, method and status code, through [`grpc_layer`]).

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{HistogramVec, IntCounterVec, IntGaugeVec, Opts};

use super::{histogram_opts, register, LATENCY_BUCKETS};

struct Api {
    rest_responses: IntCounterVec,
    rest_durations: HistogramVec,
    grpc_responses: IntCounterVec,
    grpc_durations: HistogramVec,
    in_flight: IntGaugeVec,
}

static API: LazyLock<Api> = LazyLock::new(|| Api {
    rest_responses: register(
        IntCounterVec::new(
            Opts::new("rest_responses_total", "REST responses by route and status"),
            &["method", "endpoint", "status"],
        )
        .expect("valid metric"),
    ),
    rest_durations: register(
        HistogramVec::new(
            histogram_opts(
                "rest_responses_duration_seconds",
                "REST response latency by route",
                LATENCY_BUCKETS,
            ),
            &["method", "endpoint"],
        )
        .expect("valid metric"),
    ),
    grpc_responses: register(
        IntCounterVec::new(
            Opts::new(
                "grape_grpc_responses_total",
                "gRPC responses by service, method and status code",
            ),
            &["service", "method", "code"],
        )
        .expect("valid metric"),
    ),
    grpc_durations: register(
        HistogramVec::new(
            histogram_opts(
                "grape_grpc_responses_duration_seconds",
                "gRPC response latency (until the response headers) by service and method",
                LATENCY_BUCKETS,
            ),
            &["service", "method"],
        )
        .expect("valid metric"),
    ),
    in_flight: register(
        IntGaugeVec::new(
            Opts::new(
                "grape_api_requests_in_flight",
                "Requests being served, by API (rest, grpc)",
            ),
            &["api"],
        )
        .expect("valid metric"),
    ),
});

/// Registers the API metrics (so they exist before the first gRPC call).
pub(super) fn init() {
    let api = LazyLock::force(&API);
    for name in ["rest", "grpc"] {
        api.in_flight.with_label_values(&[name]);
    }
}

/// Counts a request in flight until dropped.
pub struct InFlight(&'static str);

impl InFlight {
    pub fn start(api: &'static str) -> InFlight {
        API.in_flight.with_label_values(&[api]).inc();
        InFlight(api)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        API.in_flight.with_label_values(&[self.0]).dec();
    }
}

/// Records one REST response.
pub fn rest_response(method: &str, endpoint: &str, status: u16, elapsed: Duration) {
    API.rest_responses
        .with_label_values(&[method, endpoint, &status.to_string()])
        .inc();
    API.rest_durations
        .with_label_values(&[method, endpoint])
        .observe(elapsed.as_secs_f64());
}

/// The gRPC middleware: counts and times every call by `/<service>/<method>` and the
/// `grpc-status` of the response headers. A failing call answers with its status in the
/// headers (trailers-only); a successful one sends it in the trailers, so a response
/// without one counts as `OK`.
pub async fn grpc_layer(request: Request, next: Next) -> Response {
    let _in_flight = InFlight::start("grpc");
    let start = Instant::now();
    let (service, method) = service_and_method(request.uri().path());
    let response = next.run(request).await;
    let code = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map_or("OK", |c| code_name(tonic::Code::from_i32(c)));
    API.grpc_responses
        .with_label_values(&[&service, &method, code])
        .inc();
    API.grpc_durations
        .with_label_values(&[&service, &method])
        .observe(start.elapsed().as_secs_f64());
    response
}

/// `/qdrant.Points/Upsert` → (`qdrant.Points`, `Upsert`); anything else is `unknown`.
fn service_and_method(path: &str) -> (String, String) {
    match path.trim_start_matches('/').split_once('/') {
        Some((service, method)) if !service.is_empty() && !method.contains('/') => {
            (service.to_string(), method.to_string())
        }
        _ => ("unknown".to_string(), "unknown".to_string()),
    }
}

/// The canonical upper-case name of a gRPC status code.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_paths_split_into_service_and_method() {
        let split = |p: &str| service_and_method(p);
        assert_eq!(
            split("/qdrant.Points/Upsert"),
            ("qdrant.Points".into(), "Upsert".into())
        );
        assert_eq!(split("/"), ("unknown".into(), "unknown".into()));
        assert_eq!(split("/a/b/c"), ("unknown".into(), "unknown".into()));
        assert_eq!(code_name(tonic::Code::from_i32(14)), "UNAVAILABLE");
    }
}
