//! The README's `traced::spawn`: tasks that continue the span that spawned them.

use traced::traced;

/// An event to handle.
struct Event(Vec<&'static str>);

/// One thing an event asks for.
struct Action(&'static str);

impl Action {
    async fn run(self) {
        traced::tracing::info!(action = self.0, "running");
    }
}

fn actions(event: &Event) -> Vec<Action> {
    event.0.iter().map(|name| Action(name)).collect()
}

#[traced]
async fn handle(event: Event) {
    for action in actions(&event) {
        traced::spawn(async move { action.run().await }); // a child of `handle`, same trace and baggage
    }
}

#[tokio::main]
async fn main() {
    handle(Event(vec!["store", "webhook"])).await;
}
