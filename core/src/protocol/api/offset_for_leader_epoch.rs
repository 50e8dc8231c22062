//! Being written: this API's schema lands with the codec work.
