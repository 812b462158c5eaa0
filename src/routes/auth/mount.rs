//! Mounting the route table: one actix resource per path (so a known path with another method
//! is 405), the door as route data (policies render refusals in its shape), and the boundary
//! middleware in front of every route. An entry's policy is the type of its handler's first
//! argument, read at compile time: a handler without a policy first does not compile.

use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::{web, FromRequest, Handler, Responder};

use super::policy::Policy;
use super::Door;

/// One row of the route table.
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    pub door: Door,
    /// The policy's name (`Policy::NAME` of the handler's first argument).
    pub policy: &'static str,
    /// What the policy admits, in words.
    pub means: &'static str,
    route: Box<dyn Fn() -> actix_web::Route>,
}

/// The arguments of a handler whose first argument is a policy.
pub trait Leads {
    type Policy: Policy;
}

macro_rules! leads {
    ($($t:ident),*) => {
        impl<P: Policy, $($t),*> Leads for (P, $($t,)*) {
            type Policy = P;
        }
    };
}

leads!();
leads!(A);
leads!(A, B);
leads!(A, B, C);
leads!(A, B, C, D);
leads!(A, B, C, D, E);
leads!(A, B, C, D, E, F);
leads!(A, B, C, D, E, F, G);

/// A table row: `handler` serves `method path` at `door`, under the policy its first argument
/// names.
pub fn ep<F, Args>(method: Method, path: &'static str, door: Door, handler: F) -> Endpoint
where
    F: Handler<Args>,
    Args: FromRequest + Leads + 'static,
    F::Output: Responder + 'static,
{
    let m = method.clone();
    Endpoint {
        method,
        path,
        door,
        policy: <Args::Policy as Policy>::NAME,
        means: <Args::Policy as Policy>::MEANS,
        route: Box::new(move || web::method(m.clone()).to(handler.clone())),
    }
}

/// Mounts the routes of the table, grouped by path in table order.
pub fn mount(cfg: &mut web::ServiceConfig, endpoints: Vec<Endpoint>) {
    let mut paths: Vec<&'static str> = Vec::new();
    for e in &endpoints {
        if !paths.contains(&e.path) {
            paths.push(e.path);
        }
    }
    for path in paths {
        let here: Vec<&Endpoint> = endpoints.iter().filter(|e| e.path == path).collect();
        let door = here[0].door;
        let mut resource = web::resource(path).app_data(door);
        for e in here {
            resource = resource.route((e.route)());
        }
        let boundary = super::boundary::Boundary(door);
        if door == Door::Admin {
            cfg.service(
                resource
                    .wrap(from_fn(crate::routes::admin::record))
                    .wrap(boundary),
            );
        } else {
            cfg.service(resource.wrap(boundary));
        }
    }
}
