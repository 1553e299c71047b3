//! Compile-fail case (trybuild): the facade's derives refuse generic types, enums and unions with an error that names the rule and the way out.
#[derive(Clone, Copy, multiprocess::Pod, multiprocess::Zeroable)]
#[repr(transparent)]
struct Wrapper<T>(T);

#[derive(Clone, Copy, multiprocess::Zeroable)]
#[repr(u8)]
enum Level {
    Low = 0,
    High = 1,
}

fn main() {}
