//! Compile-fail case (trybuild): a capturing closure given to Pool::map / Pool::apply must fail at type-check time, naming the rule.
// A process pool's task that captures data is rejected by `cargo check`, in
// the map family (`Fn(T) -> R`) and the apply/starmap family (argument
// tuples) alike.
use multiprocess::Pool;

fn map(pool: &Pool) {
    let offset = vec![1u32];
    let _ = pool.map(move |x: u32| x + offset[0], vec![1, 2, 3]);
}

fn apply(pool: &Pool) {
    let shared = std::rc::Rc::new(1u32);
    let _ = pool.apply(move |x: u32| x + *shared, (1,));
}

fn main() {
    let pool = Pool::new().unwrap();
    map(&pool);
    apply(&pool);
}
