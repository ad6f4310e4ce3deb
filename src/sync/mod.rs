//! Provider sync: turning provider notifications and API answers into Pierre
//! activities. (Strava lives in `strava`, written on another branch; this
//! minimal module file is replaced by the merged one.)

pub mod garmin;
