//! The fitness providers Pierre connects to, and the defaults of their OAuth
//! apps (PROVIDERS.md: the real endpoints; an admin points them at the
//! simulator by editing the app).

use std::fmt;

/// A provider Pierre syncs from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Strava,
    Garmin,
}

/// What an OAuth app starts with before an admin edits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppDefaults {
    pub display_name: &'static str,
    pub authorize_url: &'static str,
    pub token_url: &'static str,
    pub api_base_url: &'static str,
    pub scopes: &'static str,
    pub limit_short: i32,
    pub limit_daily: i32,
    pub read_limit_short: i32,
    pub read_limit_daily: i32,
}

impl Provider {
    /// Every provider, in display order.
    pub const ALL: [Self; 2] = [Self::Strava, Self::Garmin];

    /// The storage and URL form (`strava`, `garmin`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Strava => "strava",
            Self::Garmin => "garmin",
        }
    }

    /// From the storage or URL form.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == raw)
    }

    /// The defaults of this provider's app.
    #[must_use]
    pub const fn defaults(self) -> AppDefaults {
        match self {
            // Strava API v3: 200 / 15 min and 2,000 / day overall, half of each for reads.
            Self::Strava => AppDefaults {
                display_name: "Strava",
                authorize_url: "https://www.strava.com/oauth/authorize",
                token_url: "https://www.strava.com/oauth/token",
                api_base_url: "https://www.strava.com/api/v3",
                scopes: "read,activity:read_all",
                limit_short: 200,
                limit_daily: 2000,
                read_limit_short: 100,
                read_limit_daily: 1000,
            },
            // Garmin's limits are not public; these are conservative placeholders.
            Self::Garmin => AppDefaults {
                display_name: "Garmin Connect",
                authorize_url: "https://connect.garmin.com/oauth2Confirm",
                token_url: "https://diauth.garmin.com/di-oauth2-service/oauth/token",
                api_base_url: "https://apis.garmin.com/wellness-api",
                scopes: "",
                limit_short: 100,
                limit_daily: 1000,
                read_limit_short: 100,
                read_limit_daily: 1000,
            },
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_form_round_trips() {
        for p in Provider::ALL {
            assert_eq!(Provider::parse(p.as_str()), Some(p));
        }
        assert_eq!(Provider::parse("Strava"), None);
        assert_eq!(Provider::parse(""), None);
    }
}
