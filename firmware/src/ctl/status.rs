//! `segl ctl status`.

use super::client::Client;
use super::output::print_json;
use super::CtlError;

pub(super) fn status(c: &Client, json: bool) -> Result<(), CtlError> {
    let v = c.call("GET", "/status", None)?;
    if json {
        print_json(&v);
    } else {
        let q = &v["queue"];
        println!(
            "segl {} on {}",
            v["version"].as_str().unwrap_or("?"),
            v["hostname"].as_str().unwrap_or("?")
        );
        println!("uptime:      {} s", v["uptime_secs"]);
        println!("smtp:        {}", v["listeners"]["smtp"]);
        println!("submission:  {}", v["listeners"]["submission"]);
        println!(
            "admin:       {}",
            v["listeners"]["admin"].as_str().unwrap_or("?")
        );
        println!(
            "queue:       {} messages, {} recipients pending ({} deferred), {} held",
            q["messages"], q["recipients_pending"], q["deferred"], q["held"]
        );
        println!("licence:     {}", v["licence"].as_str().unwrap_or("?"));
        if let Some(clock) = v["clock"].as_str().filter(|c| !c.is_empty()) {
            println!("clock:       {clock}");
        }
        if let Some(fw) = v["firmware"].as_str().filter(|f| !f.is_empty()) {
            println!("firmware:    {fw}");
        }
        for d in v["keystore_damaged"].as_array().into_iter().flatten() {
            println!(
                "keystore:    record {}/{} is damaged and left out: {}",
                d["tree"].as_str().unwrap_or("?"),
                d["id"].as_str().unwrap_or("?"),
                d["error"].as_str().unwrap_or("?")
            );
        }
    }
    Ok(())
}
