//! Shared mappings (`mmap(MAP_SHARED)`) of memfds and other files: filled in with mp-shm.
