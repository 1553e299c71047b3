//! [`AuthKey`] lives in mp-wire (mp-channel's `Listener` holds one too and
//! may not depend on mp-process); this is its public path here.

pub use mp_wire::AuthKey;
