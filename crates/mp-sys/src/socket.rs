//! Unix stream sockets that carry fds beside bytes (`SCM_RIGHTS`): filled in with mp-wire.
