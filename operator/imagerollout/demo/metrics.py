"""Prometheus metrics of the demo model server: requests, latency, errors by reason, images and
their cost, labelled by model and variant, as a real model server would export them."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

LABELS = ("model", "variant")
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServerMetrics:
    """One registry per server, so several servers can live in one test process."""

    def __init__(
        self,
        model: str,
        variant: str,
        error_reasons: tuple[str, ...] = (),
        reports_cost: bool = False,
    ) -> None:
        self.registry = CollectorRegistry()
        self.labels = (model, variant)
        self.requests = Counter(
            "imagegen_requests_total",
            "Image generation requests by HTTP status code.",
            (*LABELS, "code"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "imagegen_request_duration_seconds",
            "Time to answer a generation request.",
            LABELS,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "imagegen_errors_total",
            "Failed generations by reason.",
            (*LABELS, "reason"),
            registry=self.registry,
        )
        self.images = Counter(
            "imagegen_images_total", "Images returned.", LABELS, registry=self.registry
        )
        # In dollars like x-image-cost, so cost per image is rate(cost) / rate(images), unscaled.
        self.cost = Counter(
            "imagegen_cost_dollars_total",
            "Cost of generated images, in dollars.",
            LABELS,
            registry=self.registry,
        )
        self._start_at_zero(error_reasons, reports_cost)

    def _start_at_zero(self, error_reasons: tuple[str, ...], reports_cost: bool) -> None:
        """Series exist from the first scrape, so increase() also counts the first event."""
        for code in ("200", "500"):
            self.requests.labels(*self.labels, code)
        for reason in error_reasons:
            self.errors.labels(*self.labels, reason)
        self.images.labels(*self.labels)
        if reports_cost:  # a server without prices has no cost series, not a zero one
            self.cost.labels(*self.labels)

    def observe(
        self, code: int, seconds: float, images: int, reason: str | None, cost: float = 0.0
    ) -> None:
        """One answered request; cost is what its images cost in total, in dollars."""
        self.requests.labels(*self.labels, str(code)).inc()
        self.latency.labels(*self.labels).observe(seconds)
        if images:
            self.images.labels(*self.labels).inc(images)
        if cost:
            self.cost.labels(*self.labels).inc(cost)
        if reason is not None:
            self.errors.labels(*self.labels, reason).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
