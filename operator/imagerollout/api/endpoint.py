"""An explicit image endpoint: a URL the judge reads images from instead of a Service."""

from __future__ import annotations

from pydantic import Field

from imagerollout.api.fields import ApiModel, url_has_host


class Endpoint(ApiModel):
    url: str = Field(
        description="Base URL of an OpenAI Images API server. Must match the operator's "
        "endpoint allowlist.",
        pattern=r"^https?://[^\s]+$",
        max_length=512,
        json_schema_extra={
            "x-kubernetes-validations": [url_has_host("url", "http://imagegen-canary:8080")]
        },
    )
