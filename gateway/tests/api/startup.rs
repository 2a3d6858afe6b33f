//! Building, serving and stopping the application.

use std::time::Duration;

use gateway::startup::Application;
use shared_store::connect_mongodb;

use crate::helpers::test_settings;

#[tokio::test]
async fn the_server_drains_and_stops_when_told() {
    let (settings, _) = test_settings(&[]);
    let store = settings.store.clone();
    let bus = shared_events::Bus::new(settings.bus.clone());
    let application = Application::build(settings).await.expect("the app builds");
    let url = format!("http://127.0.0.1:{}/healthz", application.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until(async move {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::new();
    assert_eq!(client.get(&url).send().await.expect("sent").status(), 200);

    stop.send(()).expect("the server is listening for the stop");
    // A hang guard, not a timing assertion.
    let finished = tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .expect("the server stops")
        .expect("the server task did not panic");
    assert!(finished.is_ok(), "{finished:?}");
    assert!(reqwest::Client::new().get(&url).send().await.is_err());

    let db = connect_mongodb(&store, "gateway-tests-cleanup")
        .await
        .expect("mongodb");
    db.drop().await.expect("drop the test database");
    // The app declared its topology at start; leave no queues behind.
    bus.delete_topology().await;
}
