"""What each email template needs in `template_data`, as pydantic models.

The email payload checks its `template_data` against the chosen template's model, so a
missing or misspelt field is refused at enqueue (422 naming the field) instead of failing
the job when the template renders. tests/processors/test_email_templates_data.py checks that
every variable a template uses is a field of its model.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class WelcomeData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="Shown in the greeting")
    login_url: str | None = Field(None, max_length=2000, description="A sign-in link, when given")
    app_name: str | None = Field(None, max_length=100, description="Default Queue Worker")


class TrackCompletedData(BaseModel):
    """Needs `url` or `key` (where the track is), and `title` or `track_id` (what it is)."""

    model_config = ConfigDict(extra="forbid")

    track_id: str | None = Field(None, max_length=100, description="Named when there is no title")
    title: str | None = Field(None, max_length=200, description="The track's title")
    url: str | None = Field(None, max_length=2000, description="A link to listen to it")
    key: str | None = Field(None, max_length=2000, description="Where it is stored, without a url")
    duration_seconds: float | None = Field(None, ge=0, description="Shown when given")
    app_name: str | None = Field(None, max_length=100, description="Default Queue Worker")

    @model_validator(mode="after")
    def _where_and_what(self) -> TrackCompletedData:
        if self.url is None and self.key is None:
            raise ValueError("track_completed needs url or key in template_data")
        if self.title is None and self.track_id is None:
            raise ValueError("track_completed needs title or track_id in template_data")
        return self


class PayoutConfirmationData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payout_id: str = Field(min_length=1, description="The payouts row")
    transfer_id: str = Field(min_length=1, description="Stripe's transfer (tr_...)")
    amount_cents: int = Field(description="Paid, in cents")
    gross_cents: int = Field(description="The sales balance, in cents")
    fee_cents: int = Field(description="The platform fee, in cents")
    currency: str = Field(pattern="^[a-z]{3}$", description="ISO 4217, lower case")
    app_name: str | None = Field(None, max_length=100, description="Default Queue Worker")


TEMPLATE_DATA: dict[str, type[BaseModel]] = {
    "welcome": WelcomeData,
    "track_completed": TrackCompletedData,
    "payout_confirmation": PayoutConfirmationData,
}
