//! Anonymous shared memory files (`memfd_create`), sized and sealed: filled in with mp-shm.
