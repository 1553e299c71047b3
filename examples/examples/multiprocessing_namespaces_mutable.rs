//! Port of PyMOTW3's `multiprocessing_namespaces_mutable.py`: changing a
//! list fetched from a manager `Namespace` changes only the fetched copy,
//! so the consumer sees the shared value unchanged. (To update it, store
//! the list back with `ns.set`.)

use multiprocess::managers::{Manager, ManagerError, NamespaceProxy};
use multiprocess::{Event, Process};

fn producer(ns: NamespaceProxy, event: Event) -> Result<(), ManagerError> {
    // DOES NOT UPDATE GLOBAL VALUE!
    ns.get::<Vec<String>>("my_list")?
        .push("This is the value".to_string());
    event.set();
    Ok(())
}

fn consumer(ns: NamespaceProxy, event: Event) -> Result<(), ManagerError> {
    println!("Before event: {:?}", ns.get::<Vec<String>>("my_list")?);
    event.wait(None);
    println!("After event : {:?}", ns.get::<Vec<String>>("my_list")?);
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mgr = Manager::new()?;
    let namespace = mgr.namespace()?;
    namespace.set("my_list", &Vec::<String>::new())?;
    let event = Event::new()?;
    let mut p = Process::new(producer, (namespace.clone(), event.clone()));
    let mut c = Process::new(consumer, (namespace.clone(), event.clone()));
    c.start()?;
    p.start()?;
    c.join()?;
    p.join()?;
    Ok(())
}
