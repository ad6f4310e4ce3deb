//! Synthetic activities (work in progress).
