//! Convergence: many tasks' lifecycles, shuffled and duplicated, delivered as SQS batches, must end
//! in exactly the snapshots and history that in-order delivery produces.

mod common;

use common::stream::{
    assert_same_state, deliver, in_order_lifecycles, shuffled_with_copies, table_state,
};
use common::{run_tasks, Harness, Rng};

#[tokio::test]
async fn shuffled_duplicated_batches_converge_to_in_order_delivery() {
    let shuffled = Harness::new().await;
    let in_order = Harness::new().await;

    let mut tasks = Vec::new();
    for cluster_number in 0..5 {
        let team = format!("team-{cluster_number}");
        let (cluster, arns) =
            run_tasks(&shuffled.ecs, 10, &[("team", &team), ("env", "test")]).await;
        tasks.extend(arns.into_iter().map(|task| (cluster.clone(), task)));
    }
    let ordered = in_order_lifecycles(&tasks);
    let total = ordered.len();
    assert_eq!(total, 400);

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    deliver(&in_order.pipeline, &ordered, 10, &mut rng).await;

    // Shuffled, with 10% redelivered copies under new event ids.
    let stream = shuffled_with_copies(&ordered, &mut rng);
    let delivered = stream.len();
    let delivery = deliver(&shuffled.pipeline, &stream, 10, &mut rng).await;
    assert!(delivery.invocations >= 44);
    assert_eq!(delivery.batch_item_failures, 0, "no faults, no failures");
    println!(
        "shuffled: {delivered} events in {} invocations, AWS requests {:?} = {:.2}/event",
        delivery.invocations,
        shuffled.requests.snapshot(),
        shuffled.requests.total() as f64 / delivered as f64
    );
    println!(
        "in order: {total} events, AWS requests {:?} = {:.2}/event",
        in_order.requests.snapshot(),
        in_order.requests.total() as f64 / total as f64
    );

    let expected = table_state(&in_order).await;
    assert_eq!(
        expected.len(),
        50 * 9 + 5,
        "50 tasks × (8 versions + snapshot), and the 5 clusters in the catalog"
    );
    assert_same_state(&expected, &table_state(&shuffled).await);
}
