//! Every text Segl writes for people to read — `signatur-bevis.txt`, `Advarsel.txt`, the notice
//! to a sender, the receipt — in Danish, German and English (`mark.language`). One table per
//! language; `{name}` placeholders are filled by [`fill`]. The part file names stay Comendo's
//! (`signatur-bevis.txt`, `Advarsel.txt`) in every language: readers and their rules know them.
//! Technical details (certificate subjects, error reasons from the checks) stay as they are.

use crate::config::Language;

/// The texts of one language.
pub struct Texts {
    pub system_name: &'static str,
    // signatur-bevis.txt
    pub proof_title: &'static str,
    pub proof_intro: &'static str,
    pub signed_by: &'static str,
    pub sender_from: &'static str,
    pub signing_time: &'static str,
    pub not_stated: &'static str,
    pub verification_time: &'static str,
    pub encryption: &'static str,
    pub decrypted_by_gateway: &'static str,
    pub signer_certificate: &'static str,
    pub chain_title: &'static str,
    pub checks_title: &'static str,
    pub check_signature: &'static str,
    pub check_chain: &'static str,
    pub chain_pinned: &'static str,
    pub check_valid_now: &'static str,
    pub check_valid_signing: &'static str,
    pub no_signing_time: &'static str,
    pub chain_not_built: &'static str,
    pub check_revocation: &'static str,
    pub not_revoked: &'static str,
    pub check_address: &'static str,
    pub address_exact: &'static str,
    pub address_domain: &'static str,
    pub ok: &'static str,
    pub failed: &'static str,
    pub digest: &'static str,
    pub note: &'static str,
    pub cert_subject: &'static str,
    pub cert_issuer: &'static str,
    pub cert_serial: &'static str,
    pub cert_valid_from: &'static str,
    pub cert_valid_to: &'static str,
    // Advarsel.txt
    pub warning_title: &'static str,
    pub warning_intro: &'static str,
    pub problem_not_decrypted: &'static str,
    pub problem_invalid: &'static str,
    pub problem_revoked: &'static str,
    pub problem_untrusted: &'static str,
    pub signer: &'static str,
    pub detail: &'static str,
    pub unknown: &'static str,
    pub checked_at: &'static str,
    // Notice to the sender
    pub notice_subject_refused: &'static str,
    pub notice_subject_mailbox: &'static str,
    pub refused_intro: &'static str,
    pub refused_outro: &'static str,
    /// `{tag}`: the tag or code the sender used.
    pub reason_asked: &'static str,
    pub reason_always: &'static str,
    pub your_subject: &'static str,
    pub queue_id: &'static str,
    /// `{code}`, `{why}`.
    pub mailbox_code_denied: &'static str,
    pub mailbox_denied_encrypt: &'static str,
    pub mailbox_denied_sign: &'static str,
    /// `{from}`, `{why}`.
    pub mailbox_from_denied: &'static str,
    // Receipt
    pub receipt_subject: &'static str,
    /// `{address}`, `{id}`.
    pub receipt_intro: &'static str,
    pub receipt_encrypted: &'static str,
    pub receipt_signed_only: &'static str,
    pub subject: &'static str,
    // Why a sender may not sign or use a function mailbox.
    /// `{user}`, `{from}`.
    pub why_not_owner: &'static str,
    /// `{ip}`.
    pub why_not_relay: &'static str,
    /// `{from}`, `{ip}`.
    pub why_key_not_listed: &'static str,
    pub why_no_client: &'static str,
    /// `{id}`.
    pub why_no_mailbox: &'static str,
    /// `{mailbox}`.
    pub why_unknown_sender: &'static str,
    /// `{sender}`, `{mailbox}`.
    pub why_not_allowed: &'static str,
    /// `{mailbox}`.
    pub why_no_key: &'static str,
    pub why_no_allowed_address: &'static str,
    // The delivery status notification (DSN) to a sender.
    pub dsn_from_name: &'static str,
    pub dsn_subject: &'static str,
    /// `{host}`: our host name.
    pub dsn_intro: &'static str,
}

/// Replaces each `{name}` in `template` with its value.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(template.to_string(), |t, (k, v)| {
        t.replace(&format!("{{{k}}}"), v)
    })
}

/// `label:` padded to `width`, then the value (aligned columns in the text parts).
pub fn field(label: &str, width: usize, value: &str) -> String {
    let label = format!("{label}:");
    let pad = width.saturating_sub(label.chars().count()).max(1);
    format!("{label}{}{value}\n", " ".repeat(pad))
}

pub fn texts(lang: Language) -> &'static Texts {
    match lang {
        Language::En => &EN,
        Language::Da => &DA,
        Language::De => &DE,
    }
}

pub static EN: Texts = Texts {
    system_name: "Mail Delivery System",
    proof_title: "PROOF OF SIGNATURE (signatur-bevis)",
    proof_intro: "The mail gateway checked the digital signature of the attached message when it\narrived. The signature is valid. Keep this proof together with the message.",
    signed_by: "Signed by",
    sender_from: "Sender (From)",
    signing_time: "Signing time",
    not_stated: "(not stated by the signer)",
    verification_time: "Verification time",
    encryption: "Encryption",
    decrypted_by_gateway: "the message was encrypted and decrypted by the gateway",
    signer_certificate: "Signer certificate",
    chain_title: "Certificate chain (signer first)",
    checks_title: "Checks made",
    check_signature: "Signature over the content and message digest",
    check_chain: "Chain to a trusted certificate authority",
    chain_pinned: "not built; the certificate is a known partner certificate",
    check_valid_now: "Certificates valid at verification time",
    check_valid_signing: "Certificates valid at signing time",
    no_signing_time: "(no signing time)",
    chain_not_built: "Chain: (not built)",
    check_revocation: "Revocation (certificate revocation lists held)",
    not_revoked: "not revoked",
    check_address: "Sender address in the certificate",
    address_exact: "OK (the certificate names the address)",
    address_domain: "OK (a domain certificate for the sender's domain)",
    ok: "OK",
    failed: "FAILED",
    digest: "Digest algorithm",
    note: "Note",
    cert_subject: "Subject",
    cert_issuer: "Issuer",
    cert_serial: "Serial",
    cert_valid_from: "Valid from",
    cert_valid_to: "Valid to",
    warning_title: "WARNING (Advarsel)",
    warning_intro: "The mail gateway found a security problem with the attached message. It is\ndelivered anyway; judge its content with care and tell your e-mail administrator.",
    problem_not_decrypted: "The message was encrypted, but it could not be decrypted for you: the\ngateway holds no key for your address that it was encrypted to. It is\ndelivered as it arrived. The sender has not been told.",
    problem_invalid: "The message was signed, but the signature cannot be verified.\nThe message may have been changed after it was signed!",
    problem_revoked: "The signer's certificate has been revoked (withdrawn) by its issuer.\nThe signature cannot be trusted.",
    problem_untrusted: "The signature is intact, but the signer's certificate is not trusted:\nit is not issued by a trusted certificate authority, has expired or is\nnot yet valid, or does not name the sender's address.",
    signer: "Signer",
    detail: "Detail",
    unknown: "(unknown)",
    checked_at: "Checked at",
    notice_subject_refused: "Not delivered: encryption required",
    notice_subject_mailbox: "Not sent as function mailbox",
    refused_intro: "Your message was NOT sent to the following recipients, because it had to be\nencrypted for them and that was not possible:",
    refused_outro: "All other recipients received it as usual.\nAsk the recipient for a signed mail (its certificate is then stored\nautomatically) or ask your administrator to import the certificate.",
    reason_asked: "the sender asked for encryption ({tag}), but no valid certificate is known for this address or its domain",
    reason_always: "encryption is mandatory for this recipient (encrypt.always), but no valid certificate is known for this address or its domain",
    your_subject: "Subject of your message",
    queue_id: "Queue id",
    mailbox_code_denied: "The subject code {code} asks to send as a function mailbox, but\n{why}.",
    mailbox_denied_encrypt: "It was not signed as the mailbox and went out with your own signature (if any), encrypted only: recipients without a certificate got nothing.",
    mailbox_denied_sign: "It was not signed as the mailbox; it went out as your own mail (signed with your own key, if you have one).",
    mailbox_from_denied: "Your message has the function mailbox {from} as its From address, but\n{why}.\nIt was sent without the mailbox's signature.",
    receipt_subject: "Receipt: secure mail sent",
    receipt_intro: "Your secure message left as the function mailbox {address} ({id}),\nsigned with the mailbox's certificate:",
    receipt_encrypted: "encrypted and signed",
    receipt_signed_only: "signed, NOT encrypted (no certificate known)",
    subject: "Subject",
    why_not_owner: "authenticated user \"{user}\" does not own the From address {from}",
    why_not_relay: "client {ip} did not authenticate and is not in sign.trusted_relays",
    why_key_not_listed: "the key of {from} is not in sign.keys_without_auth (client {ip} did not authenticate)",
    why_no_client: "no client address",
    why_no_mailbox: "no function mailbox \"{id}\" is configured",
    why_unknown_sender: "the real sender is unknown, so it cannot be checked against the senders allowed to use the mailbox {mailbox}",
    why_not_allowed: "{sender} is not among the senders allowed to use the mailbox {mailbox}",
    why_no_key: "the keystore holds no usable key for the mailbox {mailbox}",
    why_no_allowed_address: "the authenticated user has no address allowed to use the mailbox",
    dsn_from_name: "Mail Delivery System",
    dsn_subject: "Undelivered Mail Returned to Sender",
    dsn_intro: "This is the mail system at host {host}.\n\nI'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients. It's attached below.\n\nFor further assistance, please contact your postmaster.",
};

pub static DA: Texts = Texts {
    system_name: "Mailsystemet",
    proof_title: "SIGNATUR-BEVIS",
    proof_intro: "Mail-gatewayen kontrollerede den digitale signatur på den vedhæftede meddelelse,\nda den blev modtaget. Signaturen er gyldig. Gem dette bevis sammen med meddelelsen.",
    signed_by: "Signeret af",
    sender_from: "Afsender (From)",
    signing_time: "Signeringstidspunkt",
    not_stated: "(ikke angivet af underskriveren)",
    verification_time: "Kontroltidspunkt",
    encryption: "Kryptering",
    decrypted_by_gateway: "meddelelsen var krypteret og blev dekrypteret af gatewayen",
    signer_certificate: "Underskriverens certifikat",
    chain_title: "Certifikatkæde (underskriveren først)",
    checks_title: "Udførte kontroller",
    check_signature: "Signatur over indhold og meddelelsens hashværdi",
    check_chain: "Kæde til en betroet certifikatudsteder",
    chain_pinned: "ikke opbygget; certifikatet er et kendt partnercertifikat",
    check_valid_now: "Certifikaterne gyldige på kontroltidspunktet",
    check_valid_signing: "Certifikaterne gyldige på signeringstidspunktet",
    no_signing_time: "(intet signeringstidspunkt)",
    chain_not_built: "Kæde: (ikke opbygget)",
    check_revocation: "Spærring (kendte spærrelister)",
    not_revoked: "ikke spærret",
    check_address: "Afsenderens adresse i certifikatet",
    address_exact: "OK (certifikatet indeholder adressen)",
    address_domain: "OK (et domænecertifikat for afsenderens domæne)",
    ok: "OK",
    failed: "FEJL",
    digest: "Hashalgoritme",
    note: "Bemærk",
    cert_subject: "Indehaver",
    cert_issuer: "Udsteder",
    cert_serial: "Serienummer",
    cert_valid_from: "Gyldig fra",
    cert_valid_to: "Gyldig til",
    warning_title: "ADVARSEL",
    warning_intro: "Mail-gatewayen har fundet et sikkerhedsproblem ved den vedhæftede meddelelse. Den\nleveres alligevel; vurdér indholdet med omtanke, og giv din e-mail-administrator besked.",
    problem_not_decrypted: "Meddelelsen var krypteret, men kunne ikke dekrypteres til dig: gatewayen har\ningen nøgle til den adresse, den var krypteret til. Den leveres, som den blev\nmodtaget. Afsenderen har ikke fået besked.",
    problem_invalid: "Meddelelsen var signeret, men signaturen kan ikke verificeres.\nMeddelelsen kan være ændret, efter at den blev signeret!",
    problem_revoked: "Underskriverens certifikat er spærret (tilbagekaldt) af udstederen.\nSignaturen kan ikke tillægges tillid.",
    problem_untrusted: "Signaturen er intakt, men underskriverens certifikat er ikke betroet:\ndet er ikke udstedt af en betroet certifikatudsteder, det er udløbet eller\nendnu ikke gyldigt, eller det indeholder ikke afsenderens adresse.",
    signer: "Underskriver",
    detail: "Detaljer",
    unknown: "(ukendt)",
    checked_at: "Kontrolleret",
    notice_subject_refused: "Ikke leveret: kryptering påkrævet",
    notice_subject_mailbox: "Ikke sendt som funktionspostkasse",
    refused_intro: "Din meddelelse blev IKKE sendt til følgende modtagere, fordi den skulle krypteres\ntil dem, og det var ikke muligt:",
    refused_outro: "Alle andre modtagere har fået den som normalt.\nBed modtageren om en signeret mail (så gemmes certifikatet automatisk),\neller bed din administrator om at importere certifikatet.",
    reason_asked: "afsenderen bad om kryptering ({tag}), men der kendes intet gyldigt certifikat for denne adresse eller dens domæne",
    reason_always: "kryptering er påkrævet for denne modtager (encrypt.always), men der kendes intet gyldigt certifikat for denne adresse eller dens domæne",
    your_subject: "Emne på din meddelelse",
    queue_id: "Kø-id",
    mailbox_code_denied: "Emnekoden {code} beder om at sende som funktionspostkasse, men\n{why}.",
    mailbox_denied_encrypt: "Den blev ikke signeret som postkassen og blev sendt med din egen signatur (hvis du har en), kun krypteret: modtagere uden certifikat har ikke fået noget.",
    mailbox_denied_sign: "Den blev ikke signeret som postkassen; den blev sendt som din egen mail (signeret med din egen nøgle, hvis du har en).",
    mailbox_from_denied: "Din meddelelse har funktionspostkassen {from} som afsender (From), men\n{why}.\nDen blev sendt uden postkassens signatur.",
    receipt_subject: "Kvittering: sikker mail sendt",
    receipt_intro: "Din sikre meddelelse er sendt som funktionspostkassen {address} ({id}),\nsigneret med postkassens certifikat:",
    receipt_encrypted: "krypteret og signeret",
    receipt_signed_only: "signeret, IKKE krypteret (intet certifikat kendt)",
    subject: "Emne",
    why_not_owner: "den godkendte bruger \"{user}\" ejer ikke afsenderadressen (From) {from}",
    why_not_relay: "klienten {ip} har ikke logget ind (SMTP AUTH) og står ikke i sign.trusted_relays",
    why_key_not_listed: "nøglen til {from} står ikke i sign.keys_without_auth (klienten {ip} har ikke logget ind)",
    why_no_client: "klientens adresse er ukendt",
    why_no_mailbox: "der er ikke oprettet nogen funktionspostkasse \"{id}\"",
    why_unknown_sender: "den egentlige afsender er ukendt, så den kan ikke kontrolleres mod de afsendere, der må bruge postkassen {mailbox}",
    why_not_allowed: "{sender} er ikke blandt de afsendere, der må bruge postkassen {mailbox}",
    why_no_key: "nøglelageret har ingen brugbar nøgle til postkassen {mailbox}",
    why_no_allowed_address: "den godkendte bruger har ingen adresse, der må bruge postkassen",
    dsn_from_name: "Postleveringssystem",
    dsn_subject: "Ikke-leveret post returneret til afsender",
    dsn_intro: "Dette er postsystemet på værten {host}.\n\nDesværre kunne din meddelelse ikke leveres til en eller flere\nmodtagere. Den er vedhæftet nedenfor.\n\nKontakt din postmaster, hvis du har brug for hjælp.",
};

pub static DE: Texts = Texts {
    system_name: "Mail-System",
    proof_title: "SIGNATURNACHWEIS (signatur-bevis)",
    proof_intro: "Das Mail-Gateway hat die digitale Signatur der beigefügten Nachricht bei ihrem\nEingang geprüft. Die Signatur ist gültig. Bewahren Sie diesen Nachweis zusammen mit\nder Nachricht auf.",
    signed_by: "Signiert von",
    sender_from: "Absender (From)",
    signing_time: "Signaturzeitpunkt",
    not_stated: "(vom Unterzeichner nicht angegeben)",
    verification_time: "Prüfzeitpunkt",
    encryption: "Verschlüsselung",
    decrypted_by_gateway: "die Nachricht war verschlüsselt und wurde vom Gateway entschlüsselt",
    signer_certificate: "Zertifikat des Unterzeichners",
    chain_title: "Zertifikatskette (Unterzeichner zuerst)",
    checks_title: "Durchgeführte Prüfungen",
    check_signature: "Signatur über Inhalt und Hashwert der Nachricht",
    check_chain: "Kette zu einer vertrauenswürdigen Zertifizierungsstelle",
    chain_pinned: "nicht gebildet; das Zertifikat ist ein bekanntes Partnerzertifikat",
    check_valid_now: "Zertifikate zum Prüfzeitpunkt gültig",
    check_valid_signing: "Zertifikate zum Signaturzeitpunkt gültig",
    no_signing_time: "(kein Signaturzeitpunkt)",
    chain_not_built: "Kette: (nicht gebildet)",
    check_revocation: "Sperrung (vorliegende Sperrlisten)",
    not_revoked: "nicht gesperrt",
    check_address: "Absenderadresse im Zertifikat",
    address_exact: "OK (das Zertifikat nennt die Adresse)",
    address_domain: "OK (ein Domänenzertifikat für die Domäne des Absenders)",
    ok: "OK",
    failed: "FEHLER",
    digest: "Hash-Algorithmus",
    note: "Hinweis",
    cert_subject: "Inhaber",
    cert_issuer: "Aussteller",
    cert_serial: "Seriennummer",
    cert_valid_from: "Gültig ab",
    cert_valid_to: "Gültig bis",
    warning_title: "WARNUNG (Advarsel)",
    warning_intro: "Das Mail-Gateway hat ein Sicherheitsproblem mit der beigefügten Nachricht festgestellt.\nSie wird trotzdem zugestellt; beurteilen Sie den Inhalt mit Vorsicht und informieren\nSie Ihre E-Mail-Administration.",
    problem_not_decrypted: "Die Nachricht war verschlüsselt, konnte für Sie aber nicht entschlüsselt werden:\nDas Gateway hat keinen Schlüssel für die Adresse, an die sie verschlüsselt war. Sie\nwird so zugestellt, wie sie ankam. Der Absender wurde nicht benachrichtigt.",
    problem_invalid: "Die Nachricht war signiert, aber die Signatur lässt sich nicht bestätigen.\nDie Nachricht wurde möglicherweise nach dem Signieren verändert!",
    problem_revoked: "Das Zertifikat des Unterzeichners wurde vom Aussteller gesperrt (widerrufen).\nDer Signatur kann nicht vertraut werden.",
    problem_untrusted: "Die Signatur ist unversehrt, aber dem Zertifikat des Unterzeichners wird nicht\nvertraut: Es stammt nicht von einer vertrauenswürdigen Zertifizierungsstelle, ist\nabgelaufen oder noch nicht gültig, oder es nennt die Adresse des Absenders nicht.",
    signer: "Unterzeichner",
    detail: "Detail",
    unknown: "(unbekannt)",
    checked_at: "Geprüft am",
    notice_subject_refused: "Nicht zugestellt: Verschlüsselung erforderlich",
    notice_subject_mailbox: "Nicht als Funktionspostfach gesendet",
    refused_intro: "Ihre Nachricht wurde an folgende Empfänger NICHT zugestellt, weil sie für diese\nverschlüsselt werden musste und das nicht möglich war:",
    refused_outro: "Alle anderen Empfänger haben sie wie gewohnt erhalten.\nBitten Sie den Empfänger um eine signierte E-Mail (sein Zertifikat wird dann\nautomatisch gespeichert) oder Ihre Administration, das Zertifikat zu importieren.",
    reason_asked: "der Absender hat Verschlüsselung verlangt ({tag}), aber für diese Adresse oder ihre Domäne ist kein gültiges Zertifikat bekannt",
    reason_always: "für diesen Empfänger ist Verschlüsselung vorgeschrieben (encrypt.always), aber für diese Adresse oder ihre Domäne ist kein gültiges Zertifikat bekannt",
    your_subject: "Betreff Ihrer Nachricht",
    queue_id: "Queue-ID",
    mailbox_code_denied: "Der Betreff-Code {code} verlangt den Versand als Funktionspostfach, aber\n{why}.",
    mailbox_denied_encrypt: "Sie wurde nicht als Postfach signiert und mit Ihrer eigenen Signatur (falls vorhanden) versandt, nur verschlüsselt: Empfänger ohne Zertifikat haben nichts erhalten.",
    mailbox_denied_sign: "Sie wurde nicht als Postfach signiert; sie wurde als Ihre eigene E-Mail versandt (mit Ihrem eigenen Schlüssel signiert, falls vorhanden).",
    mailbox_from_denied: "Ihre Nachricht hat das Funktionspostfach {from} als Absender (From), aber\n{why}.\nSie wurde ohne die Signatur des Postfachs versandt.",
    receipt_subject: "Bestätigung: sichere E-Mail gesendet",
    receipt_intro: "Ihre sichere Nachricht wurde als Funktionspostfach {address} ({id}) versandt,\nsigniert mit dem Zertifikat des Postfachs:",
    receipt_encrypted: "verschlüsselt und signiert",
    receipt_signed_only: "signiert, NICHT verschlüsselt (kein Zertifikat bekannt)",
    subject: "Betreff",
    why_not_owner: "der angemeldete Benutzer \"{user}\" besitzt die Absenderadresse (From) {from} nicht",
    why_not_relay: "der Client {ip} hat sich nicht angemeldet (SMTP AUTH) und steht nicht in sign.trusted_relays",
    why_key_not_listed: "der Schlüssel von {from} steht nicht in sign.keys_without_auth (der Client {ip} hat sich nicht angemeldet)",
    why_no_client: "die Adresse des Clients ist unbekannt",
    why_no_mailbox: "es ist kein Funktionspostfach \"{id}\" eingerichtet",
    why_unknown_sender: "der eigentliche Absender ist unbekannt und kann daher nicht mit den Absendern verglichen werden, die das Postfach {mailbox} verwenden dürfen",
    why_not_allowed: "{sender} gehört nicht zu den Absendern, die das Postfach {mailbox} verwenden dürfen",
    why_no_key: "der Schlüsselspeicher enthält keinen verwendbaren Schlüssel für das Postfach {mailbox}",
    why_no_allowed_address: "der angemeldete Benutzer hat keine Adresse, die das Postfach verwenden darf",
    dsn_from_name: "Mail-Zustellsystem",
    dsn_subject: "Unzustellbare Nachricht an den Absender zurück",
    dsn_intro: "Dies ist das Mailsystem auf dem Host {host}.\n\nIhre Nachricht konnte leider an einen oder mehrere Empfänger\nnicht zugestellt werden. Sie ist unten angehängt.\n\nWenden Sie sich bei Fragen bitte an Ihren Postmaster.",
};

#[cfg(test)]
mod tests {
    use super::*;

    fn all(t: &Texts) -> Vec<&'static str> {
        vec![
            t.system_name,
            t.proof_title,
            t.proof_intro,
            t.signed_by,
            t.sender_from,
            t.signing_time,
            t.not_stated,
            t.verification_time,
            t.encryption,
            t.decrypted_by_gateway,
            t.signer_certificate,
            t.chain_title,
            t.checks_title,
            t.check_signature,
            t.check_chain,
            t.chain_pinned,
            t.check_valid_now,
            t.check_valid_signing,
            t.no_signing_time,
            t.chain_not_built,
            t.check_revocation,
            t.not_revoked,
            t.check_address,
            t.address_exact,
            t.address_domain,
            t.ok,
            t.failed,
            t.digest,
            t.note,
            t.cert_subject,
            t.cert_issuer,
            t.cert_serial,
            t.cert_valid_from,
            t.cert_valid_to,
            t.warning_title,
            t.warning_intro,
            t.problem_not_decrypted,
            t.problem_invalid,
            t.problem_revoked,
            t.problem_untrusted,
            t.signer,
            t.detail,
            t.unknown,
            t.checked_at,
            t.notice_subject_refused,
            t.notice_subject_mailbox,
            t.refused_intro,
            t.refused_outro,
            t.reason_asked,
            t.reason_always,
            t.your_subject,
            t.queue_id,
            t.mailbox_code_denied,
            t.mailbox_denied_encrypt,
            t.mailbox_denied_sign,
            t.mailbox_from_denied,
            t.receipt_subject,
            t.receipt_intro,
            t.receipt_encrypted,
            t.receipt_signed_only,
            t.subject,
            t.why_not_owner,
            t.why_not_relay,
            t.why_key_not_listed,
            t.why_no_client,
            t.why_no_mailbox,
            t.why_unknown_sender,
            t.why_not_allowed,
            t.why_no_key,
            t.why_no_allowed_address,
        ]
    }

    #[test]
    fn every_language_is_complete_with_the_same_placeholders() {
        let en = all(&EN);
        for t in [&DA, &DE] {
            let other = all(t);
            assert_eq!(en.len(), other.len());
            for (e, o) in en.iter().zip(other) {
                assert!(!o.trim().is_empty());
                let ph = |s: &str| {
                    let mut v: Vec<String> = s
                        .split('{')
                        .skip(1)
                        .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_string()))
                        .collect();
                    v.sort();
                    v
                };
                assert_eq!(ph(e), ph(o), "placeholders differ: {e:?} / {o:?}");
            }
        }
        assert_eq!(
            fill(DA.receipt_intro, &[("address", "a@x"), ("id", "jura")])
                .lines()
                .next(),
            Some("Din sikre meddelelse er sendt som funktionspostkassen a@x (jura),")
        );
        assert_eq!(field("Udsteder", 12, "CN=x"), "Udsteder:   CN=x\n");
    }
}
