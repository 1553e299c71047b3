//! Port of PyMOTW3's `multiprocessing_namespaces.py` ("Shared Namespaces"):
//! the consumer reads a name the producer has not set yet (an error with
//! Python's `AttributeError` text), waits for the event, then sees the value.

use multiprocess::managers::{Manager, ManagerError, NamespaceProxy};
use multiprocess::{Event, Process};

fn producer(ns: NamespaceProxy, event: Event) -> Result<(), ManagerError> {
    ns.set("value", "This is the value")?;
    event.set();
    Ok(())
}

fn consumer(ns: NamespaceProxy, event: Event) -> Result<(), ManagerError> {
    match ns.get::<String>("value") {
        Ok(value) => println!("Before event: {value}"),
        Err(err) => println!("Before event, error: {err}"),
    }
    event.wait(None);
    println!("After event: {}", ns.get::<String>("value")?);
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mgr = Manager::new()?;
    let namespace = mgr.namespace()?;
    let event = Event::new()?;
    let mut p = Process::new(producer, (namespace.clone(), event.clone()));
    let mut c = Process::new(consumer, (namespace.clone(), event.clone()));
    c.start()?;
    p.start()?;
    c.join()?;
    p.join()?;
    Ok(())
}
