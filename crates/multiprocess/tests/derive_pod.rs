//! `Pod` and `Zeroable` derived from a crate that depends only on the facade.
//!
//! This test crate, like a user's, has no `bytemuck` of its own in scope (the
//! facade names its bytemuck dependency otherwise), so bytemuck's own derives
//! would fail here with "cannot find `bytemuck` in the crate root"; the
//! facade's derives need no attribute (bytemuck's `#[bytemuck(crate = ..)]`
//! still overrides the path they find). The derived types then cross
//! processes as shared memory and as typed connection messages.

use multiprocess::{pipe, Pod, Process, RawArray, Zeroable};

/// A plain pair, derived through the facade.
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
#[repr(C)]
struct Point {
    x: f64,
    y: f64,
}

/// A transparent wrapper, derived with the facade's paths written out and
/// the path to bytemuck given explicitly (the override).
#[derive(Clone, Copy, Debug, PartialEq, multiprocess::Pod, multiprocess::Zeroable)]
#[bytemuck(crate = "multiprocess::bytemuck")]
#[repr(transparent)]
struct Meters(u32);

fn scale(points: RawArray<Point>, by: f64) {
    for i in 0..points.len() {
        let p = points.get(i).unwrap();
        points
            .set(
                i,
                Point {
                    x: p.x * by,
                    y: p.y * by,
                },
            )
            .unwrap();
    }
}

fn reply(conn: multiprocess::Connection) {
    let mut got = [Meters::zeroed(); 2];
    let len = conn.recv_bytes_into_slice(&mut got, 0).unwrap();
    assert_eq!(len, 8);
    conn.send_slice(&[Meters(got[0].0 + got[1].0)]).unwrap();
}

#[test]
fn derived_pod_types_cross_processes() {
    let points =
        RawArray::from_slice(&[Point { x: 1.0, y: 2.0 }, Point { x: -3.0, y: 0.5 }]).unwrap();
    let mut p = Process::new(scale, (points.clone(), 2.0));
    p.start().unwrap();
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
    assert_eq!(
        points.to_vec(),
        [Point { x: 2.0, y: 4.0 }, Point { x: -6.0, y: 1.0 }]
    );

    let (here, there) = pipe(true).unwrap();
    let mut p = Process::new(reply, (there,));
    p.start().unwrap();
    here.send_slice(&[Meters(40), Meters(2)]).unwrap();
    let mut sum = [Meters(0)];
    assert_eq!(here.recv_bytes_into_slice(&mut sum, 0).unwrap(), 4);
    assert_eq!(sum, [Meters(42)]);
    p.join().unwrap();
    assert_eq!(p.exitcode(), Some(0));
}
