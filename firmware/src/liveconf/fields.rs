//! The configuration pages' fields: one table of descriptors (key path, kind, page, label and
//! help in English, German and Danish). The pages, their forms and the value parsing are made
//! from this table, so a new configuration key needs one new row here and nothing else.

use serde_json::Value;

/// How a field is edited and how its form text becomes a TOML value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Bool,
    /// A whole number (0 or more).
    Number,
    /// A list of strings, one per line.
    List,
    /// One of these values.
    Choice(&'static [&'static str]),
    /// A table of tables written as TOML (`[id]` sections), e.g. `[mailboxes]`.
    TomlTable,
    /// An array of tables written as TOML (`[[name]]` sections), e.g. `digital_post.rules`.
    TomlArray(&'static str),
}

/// Where a field is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Verify,
    Encrypt,
    Sign,
    Decrypt,
    Relay,
    /// System › Settings.
    System,
}

impl Page {
    pub const GATEWAY_TABS: [Page; 4] = [Page::Verify, Page::Encrypt, Page::Sign, Page::Decrypt];

    pub fn slug(self) -> &'static str {
        match self {
            Page::Verify => "verify",
            Page::Encrypt => "encrypt",
            Page::Sign => "sign",
            Page::Decrypt => "decrypt",
            Page::Relay => "relay",
            Page::System => "system",
        }
    }

    pub fn from_slug(s: &str) -> Option<Page> {
        [
            Page::Verify,
            Page::Encrypt,
            Page::Sign,
            Page::Decrypt,
            Page::Relay,
            Page::System,
        ]
        .into_iter()
        .find(|p| p.slug() == s)
    }
}

/// One configuration key on a page. Texts are `[en, de, da]`.
#[derive(Debug)]
pub struct Field {
    pub key: &'static str,
    pub kind: Kind,
    pub page: Page,
    pub label: [&'static str; 3],
    pub help: [&'static str; 3],
}

const LANGS: [&str; 3] = ["en", "de", "da"];

impl Field {
    /// Label and help in `lang` ("en", "de", "da"; English otherwise).
    pub fn texts(&self, lang: &str) -> (&'static str, &'static str) {
        let i = LANGS.iter().position(|l| *l == lang).unwrap_or(0);
        (self.label[i], self.help[i])
    }

    /// The form's name for this field (dots are fine in HTML names, but ids want no dots).
    pub fn id(&self) -> String {
        self.key.replace('.', "-")
    }

    /// Whether a change applies only at the next start.
    pub fn needs_restart(&self) -> bool {
        super::edit::needs_restart(self.key)
    }

    /// The effective value (`cfg` as JSON) shown in the form.
    pub fn display(&self, cfg: &Value) -> String {
        let v = lookup(cfg, self.key);
        match (self.kind, v) {
            (_, None) => String::new(),
            (Kind::List, Some(Value::Array(a))) => a
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| x.to_string())
                })
                .collect::<Vec<_>>()
                .join("\n"),
            (Kind::Bool, Some(Value::Bool(b))) => if *b { "on" } else { "" }.to_string(),
            (Kind::TomlTable, Some(v)) => toml_text(v, None),
            (Kind::TomlArray(name), Some(v)) => toml_text(v, Some(name)),
            (_, Some(Value::String(s))) => s.clone(),
            (_, Some(v)) => v.to_string(),
        }
    }

    /// The TOML value of the form text (`None` for an absent checkbox is `false`).
    pub fn parse(&self, text: Option<&str>) -> Result<toml::Value, String> {
        let t = text.unwrap_or("").trim();
        Ok(match self.kind {
            Kind::Text => toml::Value::String(t.to_string()),
            Kind::Bool => toml::Value::Boolean(!t.is_empty() && t != "false" && t != "off"),
            Kind::Number => toml::Value::Integer(
                t.parse::<u64>()
                    .ok()
                    .and_then(|n| i64::try_from(n).ok())
                    .ok_or_else(|| "must be a whole number (0 or more)".to_string())?,
            ),
            Kind::List => toml::Value::Array(
                t.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| toml::Value::String(l.to_string()))
                    .collect(),
            ),
            Kind::Choice(options) => {
                if !options.contains(&t) {
                    return Err(format!("must be one of {}", options.join(", ")));
                }
                toml::Value::String(t.to_string())
            }
            Kind::TomlTable => {
                toml::Value::Table(toml::from_str::<toml::Table>(t).map_err(|e| e.to_string())?)
            }
            Kind::TomlArray(name) => {
                let mut table = toml::from_str::<toml::Table>(t).map_err(|e| e.to_string())?;
                let v = table
                    .remove(name)
                    .unwrap_or_else(|| toml::Value::Array(vec![]));
                if !table.is_empty() || !v.is_array() {
                    return Err(format!("expected only [[{name}]] sections"));
                }
                v
            }
        })
    }

    /// The effective value as TOML, to compare with a submitted one.
    pub fn current(&self, cfg: &Value) -> Option<toml::Value> {
        lookup(cfg, self.key).and_then(|v| super::edit::json_to_toml(v).ok().flatten())
    }
}

fn lookup<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    key.split('.').try_fold(v, |v, k| v.get(k))
}

fn toml_text(v: &Value, wrap: Option<&str>) -> String {
    let Ok(Some(t)) = super::edit::json_to_toml(v) else {
        return String::new();
    };
    let table = match (wrap, t) {
        (Some(name), t) => {
            let mut table = toml::Table::new();
            table.insert(name.to_string(), t);
            table
        }
        (None, toml::Value::Table(t)) => t,
        _ => return String::new(),
    };
    toml::to_string(&table).unwrap_or_default()
}

/// The fields of `page`, in table order.
pub fn on(page: Page) -> impl Iterator<Item = &'static Field> {
    FIELDS.iter().filter(move |f| f.page == page)
}

/// The field a validation message is about: the one whose key the error names.
pub fn for_error(page: Page, key: Option<&str>, message: &str) -> Option<&'static Field> {
    let fields: Vec<&Field> = on(page).collect();
    key.and_then(|k| {
        fields
            .iter()
            .copied()
            .find(|f| f.key == k || k.starts_with(&format!("{}.", f.key)))
    })
    .or_else(|| fields.iter().copied().find(|f| message.contains(f.key)))
}

use Kind::*;
use Page::*;

const LANGUAGES: &[&str] = &["en", "de", "da"];
const HARVEST: &[&str] = &["auto", "manual", "off"];
const BARE_LF: &[&str] = &["normalize", "reject"];

/// Every key the pages edit.
pub static FIELDS: &[Field] = &[
    // ---- Verify: what readers of inbound signed mail see.
    Field { key: "verify.enabled", kind: Bool, page: Verify,
        label: ["Verify signatures of inbound mail", "Signaturen eingehender Mails prüfen", "Kontrollér signaturer på indgående post"],
        help: ["Off: signed inbound mail passes untouched (no marks, no proof or warning parts, no harvesting); forged Segl marks are still removed.",
               "Aus: signierte eingehende Mails gehen unverändert durch (keine Markierung, keine Nachweis- oder Warnteile, kein Sammeln); gefälschte Segl-Markierungen werden trotzdem entfernt.",
               "Fra: signeret indgående post går uændret igennem (ingen mærker, ingen bevis- eller advarselsdele, ingen høst); forfalskede Segl-mærker fjernes stadig."] },
    Field { key: "mark.language", kind: Choice(LANGUAGES), page: Verify,
        label: ["Language of Segl's texts", "Sprache der Texte von Segl", "Sprog for Segls tekster"],
        help: ["signatur-bevis.txt, Advarsel.txt, notices and receipts are written in this language.",
               "signatur-bevis.txt, Advarsel.txt, Hinweise und Quittungen werden in dieser Sprache geschrieben.",
               "signatur-bevis.txt, Advarsel.txt, meddelelser og kvitteringer skrives på dette sprog."] },
    Field { key: "mark.signed", kind: Text, page: Verify,
        label: ["Subject mark: valid signature", "Betreff-Markierung: gültige Signatur", "Emnemærke: gyldig signatur"],
        help: ["Put before the subject of inbound mail with a valid signature; empty for none. Forged marks are removed from incoming mail first.",
               "Wird dem Betreff eingehender Mails mit gültiger Signatur vorangestellt; leer: keine. Gefälschte Markierungen werden vorher entfernt.",
               "Sættes foran emnet på indgående post med gyldig signatur; tom: intet. Forfalskede mærker fjernes først."] },
    Field { key: "mark.invalid", kind: Text, page: Verify,
        label: ["Subject mark: invalid signature", "Betreff-Markierung: ungültige Signatur", "Emnemærke: ugyldig signatur"],
        help: ["For mail whose signature does not verify (changed content, revoked or expired certificate).",
               "Für Mails, deren Signatur nicht stimmt (veränderter Inhalt, gesperrtes oder abgelaufenes Zertifikat).",
               "For post hvis signatur ikke holder (ændret indhold, spærret eller udløbet certifikat)."] },
    Field { key: "mark.untrusted", kind: Text, page: Verify,
        label: ["Subject mark: untrusted signer", "Betreff-Markierung: nicht vertrauenswürdig", "Emnemærke: ikke-betroet underskriver"],
        help: ["A correct signature by a certificate without trusted chain, not a known partner, or not naming the From address.",
               "Korrekte Signatur, aber Zertifikat ohne vertrauenswürdige Kette, kein bekannter Partner oder nicht auf die Absenderadresse ausgestellt.",
               "Korrekt signatur, men certifikatet har ingen betroet kæde, er ikke en kendt partner eller nævner ikke afsenderadressen."] },
    Field { key: "mark.domain_signed", kind: Text, page: Verify,
        label: ["Subject mark: domain certificate", "Betreff-Markierung: Domänenzertifikat", "Emnemærke: domænecertifikat"],
        help: ["Instead of the valid-signature mark when a domain certificate signed; {domain} becomes the sender's domain.",
               "Statt der Markierung für gültige Signaturen, wenn ein Domänenzertifikat signiert hat; {domain} wird zur Absenderdomäne.",
               "I stedet for mærket for gyldig signatur når et domænecertifikat har signeret; {domain} bliver afsenderens domæne."] },
    Field { key: "mark.proof_part", kind: Bool, page: Verify,
        label: ["Add signature proof (signatur-bevis.txt)", "Signaturnachweis anhängen (signatur-bevis.txt)", "Tilføj signaturbevis (signatur-bevis.txt)"],
        help: ["Wraps verified mail with a part saying who signed, the certificate chain and the checks made. The signed content is not changed.",
               "Verpackt geprüfte Mails mit einem Teil: wer signiert hat, Zertifikatskette, durchgeführte Prüfungen. Der signierte Inhalt bleibt unverändert.",
               "Pakker verificeret post med en del om hvem der signerede, certifikatkæden og kontrollerne. Det signerede indhold ændres ikke."] },
    Field { key: "mark.warning_part", kind: Bool, page: Verify,
        label: ["Add warning (Advarsel.txt)", "Warnung anhängen (Advarsel.txt)", "Tilføj advarsel (Advarsel.txt)"],
        help: ["Explains a security problem (invalid or untrusted signature, undecryptable mail) in a part; the mail is still delivered.",
               "Erklärt ein Sicherheitsproblem (ungültige oder nicht vertrauenswürdige Signatur, nicht entschlüsselbar) in einem Teil; die Mail wird trotzdem zugestellt.",
               "Forklarer et sikkerhedsproblem (ugyldig eller ikke-betroet signatur, kan ikke dekrypteres) i en del; posten leveres stadig."] },
    Field { key: "authres.verify", kind: Bool, page: Verify,
        label: ["Check DKIM, SPF and DMARC of inbound mail", "DKIM, SPF und DMARC eingehender Mails prüfen", "Kontrollér DKIM, SPF og DMARC på indgående post"],
        help: ["Records the result in an Authentication-Results field; never rejects mail by itself. Needs working DNS.",
               "Schreibt das Ergebnis in ein Feld Authentication-Results; lehnt nie selbst Mails ab. Braucht funktionierendes DNS.",
               "Skriver resultatet i et Authentication-Results-felt; afviser aldrig selv post. Kræver fungerende DNS."] },
    Field { key: "authres.authserv_id", kind: Text, page: Verify,
        label: ["Name in Authentication-Results", "Name in Authentication-Results", "Navn i Authentication-Results"],
        help: ["The authserv-id naming this box; empty: the SMTP host name.", "Die authserv-id dieser Box; leer: der SMTP-Hostname.", "Denne boks' authserv-id; tom: SMTP-værtsnavnet."] },
    Field { key: "authres.timeout_secs", kind: Number, page: Verify,
        label: ["DNS time for the check (seconds)", "DNS-Zeit für die Prüfung (Sekunden)", "DNS-tid til kontrollen (sekunder)"],
        help: ["1 to 120; what is not answered in time is temperror and the mail goes on.", "1 bis 120; was nicht rechtzeitig beantwortet wird, ist temperror und die Mail geht weiter.", "1 til 120; hvad der ikke besvares i tide er temperror, og posten går videre."] },
    // ---- Encrypt: outbound encryption and where certificates come from.
    Field { key: "encrypt.enabled", kind: Bool, page: Encrypt,
        label: ["Encrypt outbound mail", "Ausgehende Mails verschlüsseln", "Krypter udgående post"],
        help: ["Off: no opportunistic encryption; recipients that must get encrypted mail get nothing and the sender a notice (never plain text).",
               "Aus: keine opportunistische Verschlüsselung; Empfänger, die nur verschlüsselt erhalten dürfen, bekommen nichts und der Absender einen Hinweis (nie Klartext).",
               "Fra: ingen opportunistisk kryptering; modtagere der skal have krypteret post får intet og afsenderen en meddelelse (aldrig klartekst)."] },
    Field { key: "portal.enabled", kind: Bool, page: Encrypt,
        label: ["Web portal for recipients without a certificate", "Web-Portal für Empfänger ohne Zertifikat", "Webportal til modtagere uden certifikat"],
        help: ["When mail must be encrypted and the recipient has no certificate, it is kept encrypted on the box and the recipient gets a link to the portal instead of the sender getting a notice.",
               "Muss eine Mail verschlüsselt werden und hat der Empfänger kein Zertifikat, bleibt sie verschlüsselt auf der Box und der Empfänger erhält einen Link zum Portal, statt dass der Absender einen Hinweis bekommt.",
               "Når post skal krypteres og modtageren ikke har et certifikat, gemmes den krypteret på boksen og modtageren får et link til portalen i stedet for at afsenderen får en meddelelse."] },
    Field { key: "portal.exclude", kind: List, page: Encrypt,
        label: ["Never to the portal", "Nie an das Portal", "Aldrig til portalen"],
        help: ["Recipients and @domains that keep the notice to the sender instead of the portal. One per line.",
               "Empfänger und @Domänen, für die der Absender weiter einen Hinweis statt des Portals erhält. Einer pro Zeile.",
               "Modtagere og @domæner hvor afsenderen fortsat får en meddelelse i stedet for portalen. Én pr. linje."] },
    Field { key: "portal.public_url", kind: Text, page: Encrypt,
        label: ["Portal address for links", "Portal-Adresse für Links", "Portaladresse til links"],
        help: ["The https:// address recipients reach the portal at; links in notifications are built from it.",
               "Die https://-Adresse, unter der Empfänger das Portal erreichen; daraus werden die Links gebaut.",
               "Den https://-adresse modtagerne når portalen på; links i meddelelser bygges ud fra den."] },
    Field { key: "portal.require_code", kind: Bool, page: Encrypt,
        label: ["Portal set-up needs the sender's code", "Portal-Einrichtung braucht den Code des Absenders", "Portalopsætning kræver afsenderens kode"],
        help: ["Whoever reads only the notification cannot open the mailbox: the code goes to the sender, who passes it on by another channel.",
               "Wer nur die Benachrichtigung liest, kann das Postfach nicht öffnen: der Code geht an den Absender, der ihn auf anderem Weg weitergibt.",
               "Den der kun læser meddelelsen kan ikke åbne postkassen: koden går til afsenderen, som giver den videre ad en anden vej."] },
    Field { key: "portal.retention_days", kind: Number, page: Encrypt,
        label: ["Keep portal messages (days)", "Portal-Nachrichten aufbewahren (Tage)", "Gem portalbeskeder (dage)"],
        help: ["Then they are deleted; the sender is told when a message expired unread.",
               "Danach werden sie gelöscht; der Absender erfährt, wenn eine Nachricht ungelesen abgelaufen ist.",
               "Derefter slettes de; afsenderen får besked hvis en besked udløb ulæst."] },
    Field { key: "encrypt.always", kind: List, page: Encrypt,
        label: ["Always encrypt to", "Immer verschlüsseln an", "Krypter altid til"],
        help: ["Recipients (user@partner.example) and domains (@partner.example) that only ever get encrypted mail; without a certificate the sender gets a notice. One per line.",
               "Empfänger (user@partner.example) und Domänen (@partner.example), die nur verschlüsselte Mails erhalten; ohne Zertifikat erhält der Absender einen Hinweis. Einer pro Zeile.",
               "Modtagere (user@partner.example) og domæner (@partner.example) der kun får krypteret post; uden certifikat får afsenderen besked. Én pr. linje."] },
    Field { key: "encrypt.include_sender", kind: Bool, page: Encrypt,
        label: ["Encrypt to the sender too", "Auch an den Absender verschlüsseln", "Krypter også til afsenderen"],
        help: ["So the sender can read the sent copy.", "Damit der Absender die gesendete Kopie lesen kann.", "Så afsenderen kan læse den sendte kopi."] },
    Field { key: "encrypt.tags", kind: List, page: Encrypt,
        label: ["Subject tags for mandatory encryption", "Betreff-Tags für Pflichtverschlüsselung", "Emne-mærker for tvungen kryptering"],
        help: ["A sender puts one in the subject to make encryption mandatory for that mail; the tag is removed. One per line.",
               "Ein Absender schreibt einen in den Betreff, um die Mail zwingend zu verschlüsseln; der Tag wird entfernt. Einer pro Zeile.",
               "En afsender skriver et i emnet for at gøre kryptering tvungen for den mail; mærket fjernes. Ét pr. linje."] },
    Field { key: "harvest.mode", kind: Choice(HARVEST), page: Encrypt,
        label: ["Use received certificates for encryption", "Empfangene Zertifikate zur Verschlüsselung nutzen", "Brug modtagne certifikater til kryptering"],
        help: ["Certificates from valid inbound signatures: auto (used at once), manual (wait for approval), off.",
               "Zertifikate aus gültigen eingehenden Signaturen: auto (sofort genutzt), manual (warten auf Freigabe), off.",
               "Certifikater fra gyldige indgående signaturer: auto (bruges straks), manual (venter på godkendelse), off."] },
    Field { key: "lookup.ldap", kind: List, page: Encrypt,
        label: ["Certificate directories (LDAP)", "Zertifikatsverzeichnisse (LDAP)", "Certifikatkataloger (LDAP)"],
        help: ["ldap://host[:port][/base DN] or ldaps://…, asked in order for a recipient's certificate when the keystore has none. One per line.",
               "ldap://host[:port][/Basis-DN] oder ldaps://…, der Reihe nach nach dem Zertifikat eines Empfängers gefragt, wenn der Schlüsselspeicher keins hat. Eins pro Zeile.",
               "ldap://host[:port][/base-DN] eller ldaps://…, spørges i rækkefølge om en modtagers certifikat når nøglelageret ikke har et. Én pr. linje."] },
    Field { key: "lookup.base_dn", kind: Text, page: Encrypt,
        label: ["LDAP search base", "LDAP-Suchbasis", "LDAP-søgebase"],
        help: ["Empty: the URL's DN, else the directory's first naming context.", "Leer: der DN der URL, sonst der erste Namenskontext des Verzeichnisses.", "Tom: URL'ens DN, ellers katalogets første navnekontekst."] },
    Field { key: "lookup.filter", kind: Text, page: Encrypt,
        label: ["LDAP search filter", "LDAP-Suchfilter", "LDAP-søgefilter"],
        help: ["{address} becomes the escaped recipient address.", "{address} wird zur (maskierten) Empfängeradresse.", "{address} bliver den (escapede) modtageradresse."] },
    Field { key: "lookup.attributes", kind: List, page: Encrypt,
        label: ["LDAP certificate attributes", "LDAP-Zertifikatsattribute", "LDAP-certifikatattributter"],
        help: ["Attributes holding the certificate (DER). One per line.", "Attribute mit dem Zertifikat (DER). Eins pro Zeile.", "Attributter med certifikatet (DER). Én pr. linje."] },
    Field { key: "lookup.bind_dn", kind: Text, page: Encrypt,
        label: ["LDAP bind DN", "LDAP-Bind-DN", "LDAP bind-DN"],
        help: ["Empty: anonymous.", "Leer: anonym.", "Tom: anonym."] },
    Field { key: "lookup.bind_password_file", kind: Text, page: Encrypt,
        label: ["LDAP password file", "LDAP-Passwortdatei", "LDAP-adgangskodefil"],
        help: ["A file holding the bind password (the password itself is never stored in the configuration).",
               "Datei mit dem Bind-Passwort (das Passwort selbst steht nie in der Konfiguration).",
               "En fil med bind-adgangskoden (selve adgangskoden gemmes aldrig i konfigurationen)."] },
    Field { key: "lookup.timeout_secs", kind: Number, page: Encrypt,
        label: ["LDAP timeout (seconds)", "LDAP-Zeitlimit (Sekunden)", "LDAP-timeout (sekunder)"],
        help: ["A slow directory never holds mail up: the recipient counts as having no certificate.", "Ein langsames Verzeichnis hält keine Mail auf: der Empfänger gilt als ohne Zertifikat.", "Et langsomt katalog holder aldrig post tilbage: modtageren regnes som uden certifikat."] },
    Field { key: "lookup.cache_hours", kind: Number, page: Encrypt,
        label: ["Keep found certificates (hours)", "Gefundene Zertifikate behalten (Stunden)", "Behold fundne certifikater (timer)"],
        help: ["Before the directory is asked again.", "Bevor das Verzeichnis erneut gefragt wird.", "Før kataloget spørges igen."] },
    Field { key: "lookup.negative_cache_minutes", kind: Number, page: Encrypt,
        label: ["Remember misses (minutes)", "Fehlanzeigen merken (Minuten)", "Husk manglende svar (minutter)"],
        help: ["An address without a result is not asked again for this long.", "Eine Adresse ohne Ergebnis wird so lange nicht erneut gefragt.", "En adresse uden resultat spørges ikke igen så længe."] },
    Field { key: "lookup.require_trusted_chain", kind: Bool, page: Encrypt,
        label: ["Only trusted directory certificates", "Nur vertrauenswürdige Verzeichniszertifikate", "Kun betroede katalogcertifikater"],
        help: ["Use only certificates that chain to a trust anchor, are valid, name the address and are not revoked.",
               "Nur Zertifikate nutzen, die zu einem Vertrauensanker führen, gültig sind, die Adresse nennen und nicht gesperrt sind.",
               "Brug kun certifikater der kæder til et tillidsanker, er gyldige, nævner adressen og ikke er spærret."] },
    // ---- Sign: outbound signatures, function mailboxes, notices.
    Field { key: "sign.enabled", kind: Bool, page: Sign,
        label: ["Sign outbound mail", "Ausgehende Mails signieren", "Signér udgående post"],
        help: ["Off: no outbound signatures (no licence and no own keys needed); encryption still works.",
               "Aus: keine ausgehenden Signaturen (keine Lizenz und keine eigenen Schlüssel nötig); Verschlüsselung funktioniert weiter.",
               "Fra: ingen udgående signaturer (ingen licens og ingen egne nøgler nødvendige); kryptering virker stadig."] },
    Field { key: "sign.domain_key_to", kind: List, page: Sign,
        label: ["Sign with the domain certificate to", "Mit dem Domänenzertifikat signieren an", "Signér med domænecertifikatet til"],
        help: ["Senders without their own key: the domain key signs only mail to these recipients and @domains; the others get an unsigned copy. One per line.",
               "Absender ohne eigenen Schlüssel: der Domänenschlüssel signiert nur Mails an diese Empfänger und @Domänen; die übrigen erhalten eine unsignierte Kopie. Einer pro Zeile.",
               "Afsendere uden egen nøgle: domænenøglen signerer kun post til disse modtagere og @domæner; de øvrige får en usigneret kopi. Én pr. linje."] },
    Field { key: "keystore.auto_issue", kind: Bool, page: Sign,
        label: ["Issue keys automatically", "Schlüssel automatisch ausstellen", "Udsted nøgler automatisk"],
        help: ["A registered user (or a listed sender) without a key gets one from the built-in CA with the first outbound mail, which is signed with it. Counted against the licence.",
               "Ein registrierter Benutzer (oder ein gelisteter Absender) ohne Schlüssel erhält mit der ersten ausgehenden Mail einen von der eingebauten CA, und diese Mail wird damit signiert. Zählt gegen die Lizenz.",
               "En registreret bruger (eller en listet afsender) uden nøgle får en fra den indbyggede CA med den første udgående mail, som signeres med den. Tæller mod licensen."] },
    Field { key: "keystore.auto_issue_for", kind: List, page: Sign,
        label: ["Also issue keys for", "Schlüssel auch ausstellen für", "Udsted også nøgler til"],
        help: ["Senders and @domains that get a key automatically even when not registered users. One per line.",
               "Absender und @Domänen, die auch ohne Benutzerkonto automatisch einen Schlüssel erhalten. Einer pro Zeile.",
               "Afsendere og @domæner der automatisk får en nøgle, også uden brugerkonto. Én pr. linje."] },
    Field { key: "keystore.auto_issue_per_hour", kind: Number, page: Sign,
        label: ["Automatic keys per hour at most", "Höchstens automatische Schlüssel pro Stunde", "Højst automatiske nøgler pr. time"],
        help: ["A bound against a flood of new senders.", "Eine Grenze gegen eine Flut neuer Absender.", "En grænse mod en strøm af nye afsendere."] },
    Field { key: "sign.trusted_relays", kind: List, page: Sign,
        label: ["Trust sender address when received from", "Absenderadresse vertrauen bei Empfang von", "Stol på afsenderadressen ved modtagelse fra"],
        help: ["Relays (IP addresses or networks) whose mail may be signed without SMTP AUTH. One per line.",
               "Relays (IP-Adressen oder Netze), deren Mails ohne SMTP AUTH signiert werden dürfen. Eins pro Zeile.",
               "Relæer (IP-adresser eller net) hvis post må signeres uden SMTP AUTH. Én pr. linje."] },
    Field { key: "sign.keys_without_auth", kind: List, page: Sign,
        label: ["Keys usable without authentication", "Schlüssel ohne Authentifizierung nutzbar", "Nøgler der kan bruges uden godkendelse"],
        help: ["Addresses whose keys may sign mail from the trusted relays without SMTP AUTH. One per line.",
               "Adressen, deren Schlüssel Mails von vertrauenswürdigen Relays ohne SMTP AUTH signieren dürfen. Eine pro Zeile.",
               "Adresser hvis nøgler må signere post fra de betroede relæer uden SMTP AUTH. Én pr. linje."] },
    Field { key: "sign.nosign_tags", kind: List, page: Sign,
        label: ["Subject tags that suppress signing", "Betreff-Tags gegen Signieren", "Emne-mærker der undertrykker signering"],
        help: ["A sender puts one in the subject to send one mail unsigned; the tag is removed. One per line.",
               "Ein Absender schreibt einen in den Betreff, um eine Mail unsigniert zu senden; der Tag wird entfernt. Einer pro Zeile.",
               "En afsender skriver et i emnet for at sende én mail usigneret; mærket fjernes. Ét pr. linje."] },
    Field { key: "notify.send_receipt", kind: Bool, page: Sign,
        label: ["Receipt for function-mailbox mail", "Quittung für Funktionspostfach-Mails", "Kvittering for post fra funktionspostkasser"],
        help: ["After a mail sent as a function mailbox left, the employee gets a receipt listing the recipients and whether each copy was encrypted.",
               "Nachdem eine Mail als Funktionspostfach versandt wurde, erhält der Mitarbeiter eine Quittung mit den Empfängern und ob jede Kopie verschlüsselt war.",
               "Når en mail sendt som funktionspostkasse er afsendt, får medarbejderen en kvittering med modtagerne og om hver kopi var krypteret."] },
    Field { key: "notify.admin_address", kind: Text, page: Sign,
        label: ["Administrator's address for notices", "Adresse des Administrators für Hinweise", "Administratorens adresse til meddelelser"],
        help: ["Licence notices go here once a week while the licence needs attention; empty: none.",
               "Lizenzhinweise gehen wöchentlich hierhin, solange die Lizenz Aufmerksamkeit braucht; leer: keine.",
               "Licensmeddelelser sendes hertil en gang om ugen mens licensen kræver opmærksomhed; tom: ingen."] },
    Field { key: "mailboxes", kind: TomlTable, page: Sign,
        label: ["Function mailboxes", "Funktionspostfächer", "Funktionspostkasser"],
        help: ["One [id] section per mailbox with address, name and senders (addresses or @domains). Subject code #K-id# signs and encrypts, #S-id# signs as the mailbox.",
               "Ein Abschnitt [id] je Postfach mit address, name und senders (Adressen oder @Domänen). Betreff-Code #K-id# signiert und verschlüsselt, #S-id# signiert als Postfach.",
               "Én sektion [id] pr. postkasse med address, name og senders (adresser eller @domæner). Emnekode #K-id# signerer og krypterer, #S-id# signerer som postkassen."] },
    // ---- Decrypt: inbound encrypted mail, Digital Post.
    Field { key: "decrypt.enabled", kind: Bool, page: Decrypt,
        label: ["Decrypt inbound mail", "Eingehende Mails entschlüsseln", "Dekryptér indgående post"],
        help: ["Off: encrypted inbound mail is delivered as it came, for the readers' own clients to decrypt.",
               "Aus: verschlüsselte eingehende Mails werden so zugestellt, wie sie kamen; die Mailprogramme der Leser entschlüsseln selbst.",
               "Fra: krypteret indgående post leveres som den kom, så læsernes egne programmer dekrypterer."] },
    Field { key: "mark.encrypted", kind: Text, page: Decrypt,
        label: ["Subject mark: was encrypted", "Betreff-Markierung: war verschlüsselt", "Emnemærke: var krypteret"],
        help: ["Put before the subject of inbound mail Segl decrypted; empty for none.", "Wird dem Betreff eingehender, von Segl entschlüsselter Mails vorangestellt; leer: keine.", "Sættes foran emnet på indgående post som Segl har dekrypteret; tom: intet."] },
    Field { key: "mark.decrypt_failed", kind: Text, page: Decrypt,
        label: ["Subject mark: could not decrypt", "Betreff-Markierung: nicht entschlüsselbar", "Emnemærke: kunne ikke dekrypteres"],
        help: ["Encrypted mail Segl could not decrypt is delivered as it came, with this mark.", "Nicht entschlüsselbare Mails werden unverändert mit dieser Markierung zugestellt.", "Post som ikke kunne dekrypteres leveres som den kom, med dette mærke."] },
    Field { key: "digital_post.sender_certificates", kind: List, page: Decrypt,
        label: ["Digital Post sender certificates", "Digital-Post-Absenderzertifikate", "Digital Post afsendercertifikater"],
        help: ["PEM files (relative to the configuration file) or sha256:<hex> fingerprints. Rules apply only to mail with a valid signature by one of them. One per line.",
               "PEM-Dateien (relativ zur Konfigurationsdatei) oder sha256:<hex>-Fingerabdrücke. Regeln gelten nur für Mails mit gültiger Signatur durch eins davon. Eins pro Zeile.",
               "PEM-filer (relativt til konfigurationsfilen) eller sha256:<hex>-fingeraftryk. Regler gælder kun post med gyldig signatur fra et af dem. Én pr. linje."] },
    Field { key: "digital_post.company_keys", kind: List, page: Decrypt,
        label: ["Company keys", "Firmenschlüssel", "Virksomhedsnøgler"],
        help: ["Own keys (addresses or @domain) that count as the company key; empty: the domain keys. One per line.",
               "Eigene Schlüssel (Adressen oder @Domäne), die als Firmenschlüssel gelten; leer: die Domänenschlüssel. Einer pro Zeile.",
               "Egne nøgler (adresser eller @domæne) der gælder som virksomhedsnøgle; tom: domænenøglerne. Én pr. linje."] },
    Field { key: "digital_post.default_deliver_to", kind: List, page: Decrypt,
        label: ["Digital Post without a matching rule goes to", "Digital Post ohne passende Regel geht an", "Digital Post uden matchende regel går til"],
        help: ["Empty: as addressed. One per line.", "Leer: wie adressiert. Eine pro Zeile.", "Tom: som adresseret. Én pr. linje."] },
    Field { key: "digital_post.rules", kind: TomlArray("rules"), page: Decrypt,
        label: ["Digital Post distribution rules", "Digital-Post-Verteilregeln", "Digital Post fordelingsregler"],
        help: ["[[rules]] sections with header, equals or contains, and deliver_to; tried in order, every matching rule adds its recipients.",
               "Abschnitte [[rules]] mit header, equals oder contains und deliver_to; der Reihe nach geprüft, jede passende Regel fügt ihre Empfänger hinzu.",
               "Sektioner [[rules]] med header, equals eller contains og deliver_to; prøves i rækkefølge, hver matchende regel tilføjer sine modtagere."] },
    // ---- System › Settings.
    Field { key: "smtp.hostname", kind: Text, page: System,
        label: ["SMTP host name", "SMTP-Hostname", "SMTP-værtsnavn"],
        help: ["Our name in the banner, EHLO, Received headers and DSNs.", "Unser Name im Banner, EHLO, Received-Kopfzeilen und DSNs.", "Vores navn i banner, EHLO, Received-felter og DSN'er."] },
    Field { key: "admin.listen", kind: Text, page: System,
        label: ["Web admin listener", "Listener der Web-Administration", "Webadministrationens lytter"],
        help: ["Address and port of this web admin and the API (HTTPS unless on a loopback address).",
               "Adresse und Port dieser Web-Administration und der API (HTTPS außer auf einer Loopback-Adresse).",
               "Adresse og port for denne webadministration og API'et (HTTPS undtagen på en loopback-adresse)."] },
    Field { key: "admin.metrics_token_file", kind: Text, page: System,
        label: ["Metrics token file", "Token-Datei für Metriken", "Tokenfil til metrikker"],
        help: ["A file with a bearer token that lets a Prometheus scraper read /metrics without an admin login; empty: /metrics only for admins.",
               "Eine Datei mit einem Bearer-Token, mit dem ein Prometheus-Scraper /metrics ohne Admin-Anmeldung liest; leer: /metrics nur für Admins.",
               "En fil med et bearer-token, som lader en Prometheus-scraper læse /metrics uden admin-login; tom: /metrics kun for administratorer."] },
    // ---- SMTP settings › Relay control.
    Field { key: "smtp.listen", kind: List, page: Relay,
        label: ["MX and relay listener", "MX- und Relay-Listener", "MX- og relæ-lytter"],
        help: ["ip:port, one per line.", "ip:port, eins pro Zeile.", "ip:port, én pr. linje."] },
    Field { key: "smtp.submission_listen", kind: List, page: Relay,
        label: ["Submission listener (AUTH)", "Submission-Listener (AUTH)", "Submission-lytter (AUTH)"],
        help: ["Mail clients with SMTP AUTH, offered only after STARTTLS. ip:port, one per line.", "Mailprogramme mit SMTP AUTH, nur nach STARTTLS. ip:port, eins pro Zeile.", "Mailklienter med SMTP AUTH, kun efter STARTTLS. ip:port, én pr. linje."] },
    Field { key: "relay.trusted_networks", kind: List, page: Relay,
        label: ["Trusted networks", "Vertrauenswürdige Netze", "Betroede net"],
        help: ["Clients (CIDR) that may relay to any domain, e.g. the internal mail server; everyone else only to local domains. One per line.",
               "Clients (CIDR), die an jede Domäne weiterleiten dürfen, z. B. der interne Mailserver; alle anderen nur an lokale Domänen. Eins pro Zeile.",
               "Klienter (CIDR) der må relæe til alle domæner, f.eks. den interne mailserver; alle andre kun til lokale domæner. Én pr. linje."] },
    Field { key: "relay.local_domains", kind: List, page: Relay,
        label: ["Local domains", "Lokale Domänen", "Lokale domæner"],
        help: ["Mail to these domains is inbound and goes to the internal next hop. One per line.", "Mails an diese Domänen sind eingehend und gehen an den internen Next Hop. Eine pro Zeile.", "Post til disse domæner er indgående og går til det interne næste hop. Én pr. linje."] },
    Field { key: "relay.local_recipients", kind: List, page: Relay,
        label: ["Valid local recipients", "Gültige lokale Empfänger", "Gyldige lokale modtagere"],
        help: ["user@example.org or @example.org; empty: all addresses of the local domains. Others get 550 at RCPT. One per line.",
               "user@example.org oder @example.org; leer: alle Adressen der lokalen Domänen. Andere erhalten 550 bei RCPT. Eine pro Zeile.",
               "user@example.org eller @example.org; tom: alle adresser i de lokale domæner. Andre får 550 ved RCPT. Én pr. linje."] },
    Field { key: "relay.recipient_callout", kind: Bool, page: Relay,
        label: ["Recipient callout", "Empfängerprüfung beim Next Hop", "Modtagerkontrol hos næste hop"],
        help: ["Ask the internal next hop at RCPT time whether a local recipient exists.", "Beim RCPT den internen Next Hop fragen, ob ein lokaler Empfänger existiert.", "Spørg det interne næste hop ved RCPT om en lokal modtager findes."] },
    Field { key: "delivery.require_tls_domains", kind: List, page: Relay,
        label: ["Domains that require TLS", "Domänen mit TLS-Pflicht", "Domæner der kræver TLS"],
        help: ["Mail to these domains goes only over TLS with a verified certificate; otherwise it waits and is retried. One per line.",
               "Mails an diese Domänen gehen nur über TLS mit geprüftem Zertifikat; sonst warten sie und werden erneut versucht. Eine pro Zeile.",
               "Post til disse domæner sendes kun over TLS med verificeret certifikat; ellers venter den og prøves igen. Én pr. linje."] },
    Field { key: "delivery.tls_levels", kind: TomlTable, page: Relay,
        label: ["TLS level per domain", "TLS-Stufe je Domäne", "TLS-niveau pr. domæne"],
        help: ["Lines like \"partner.example\" = \"verify\" (may, encrypt or verify); overrides the list above.",
               "Zeilen wie \"partner.example\" = \"verify\" (may, encrypt oder verify); hat Vorrang vor der Liste oben.",
               "Linjer som \"partner.example\" = \"verify\" (may, encrypt eller verify); går forud for listen ovenfor."] },
    Field { key: "delivery.tls_ca_file", kind: Text, page: Relay,
        label: ["Extra CA certificates for outbound TLS", "Zusätzliche CA-Zertifikate für ausgehendes TLS", "Ekstra CA-certifikater til udgående TLS"],
        help: ["A PEM file added to the system CA bundle for verifying next hops; empty: the system bundle only.",
               "Eine PEM-Datei zusätzlich zum System-CA-Bündel für die Prüfung der Next Hops; leer: nur das System-Bündel.",
               "En PEM-fil ud over systemets CA-bundt til at verificere næste hop; tom: kun systemets bundt."] },
    Field { key: "smtp.max_message_size", kind: Number, page: Relay,
        label: ["Largest message (bytes)", "Größte Nachricht (Bytes)", "Største besked (bytes)"],
        help: ["Advertised with SIZE and enforced on the data.", "Mit SIZE angekündigt und an den Daten durchgesetzt.", "Annonceres med SIZE og håndhæves på data."] },
    Field { key: "smtp.max_recipients", kind: Number, page: Relay,
        label: ["Recipients per message", "Empfänger je Nachricht", "Modtagere pr. besked"],
        help: ["More get 452 4.5.3.", "Weitere erhalten 452 4.5.3.", "Flere får 452 4.5.3."] },
    Field { key: "smtp.max_connections", kind: Number, page: Relay,
        label: ["Simultaneous connections", "Gleichzeitige Verbindungen", "Samtidige forbindelser"],
        help: ["In all.", "Insgesamt.", "I alt."] },
    Field { key: "smtp.max_connections_per_ip", kind: Number, page: Relay,
        label: ["Connections per client address", "Verbindungen je Client-Adresse", "Forbindelser pr. klientadresse"],
        help: ["Rate limit per client IP.", "Begrenzung je Client-IP.", "Begrænsning pr. klient-IP."] },
    Field { key: "smtp.max_connections_per_trusted_ip", kind: Number, page: Relay,
        label: ["Connections per trusted relay address", "Verbindungen je vertrauter Relay-Adresse", "Forbindelser pr. betroet relay-adresse"],
        help: ["For clients in the trusted networks; 0: no limit but the total.", "Für Clients aus den vertrauten Netzen; 0: nur die Gesamtgrenze.", "For klienter i de betroede net; 0: kun den samlede grænse."] },
    Field { key: "smtp.command_timeout_secs", kind: Number, page: Relay,
        label: ["Command timeout (seconds)", "Befehls-Zeitlimit (Sekunden)", "Kommando-timeout (sekunder)"],
        help: ["Idle time allowed between commands.", "Erlaubte Pause zwischen Befehlen.", "Tilladt pause mellem kommandoer."] },
    Field { key: "smtp.data_timeout_secs", kind: Number, page: Relay,
        label: ["DATA timeout (seconds)", "DATA-Zeitlimit (Sekunden)", "DATA-timeout (sekunder)"],
        help: ["For the whole DATA phase.", "Für die ganze DATA-Phase.", "For hele DATA-fasen."] },
    Field { key: "smtp.max_errors", kind: Number, page: Relay,
        label: ["Protocol errors per session", "Protokollfehler je Sitzung", "Protokolfejl pr. session"],
        help: ["Then 421 and disconnect.", "Danach 421 und Trennung.", "Derefter 421 og afbrydelse."] },
    Field { key: "smtp.hop_limit", kind: Number, page: Relay,
        label: ["Hop limit (Received headers)", "Hop-Grenze (Received-Kopfzeilen)", "Hop-grænse (Received-felter)"],
        help: ["More count as a mail loop (554 5.4.6).", "Mehr gelten als Mailschleife (554 5.4.6).", "Flere regnes som en postløkke (554 5.4.6)."] },
    Field { key: "smtp.bare_lf", kind: Choice(BARE_LF), page: Relay,
        label: ["Bare line feeds in DATA", "Einzelne LF in DATA", "Enkeltstående LF i DATA"],
        help: ["normalize turns them into CRLF (no SMTP smuggling); reject refuses the message.", "normalize wandelt sie in CRLF um (kein SMTP-Smuggling); reject lehnt die Nachricht ab.", "normalize gør dem til CRLF (ingen SMTP-smugling); reject afviser beskeden."] },
    Field { key: "delivery.inbound_next_hop", kind: Text, page: Relay,
        label: ["Internal mail server (next hop)", "Interner Mailserver (Next Hop)", "Intern mailserver (næste hop)"],
        help: ["host:port that receives inbound mail.", "host:port, der eingehende Mails erhält.", "host:port der modtager indgående post."] },
    Field { key: "delivery.outbound_smarthost", kind: Text, page: Relay,
        label: ["Outbound smarthost", "Smarthost für ausgehende Mails", "Smarthost for udgående post"],
        help: ["host:port for all outbound mail; empty: the recipient domain's MX.", "host:port für alle ausgehenden Mails; leer: der MX der Empfängerdomäne.", "host:port for al udgående post; tom: modtagerdomænets MX."] },
    Field { key: "delivery.mx_port", kind: Number, page: Relay,
        label: ["Port for MX hosts", "Port für MX-Hosts", "Port for MX-værter"],
        help: ["Used for hosts found by MX lookup.", "Für per MX-Abfrage gefundene Hosts.", "Bruges for værter fundet via MX-opslag."] },
    Field { key: "delivery.dns_servers", kind: List, page: Relay,
        label: ["DNS servers", "DNS-Server", "DNS-servere"],
        help: ["ip or ip:port, one per line; empty: the system resolver.", "ip oder ip:port, einer pro Zeile; leer: System-Resolver.", "ip eller ip:port, én pr. linje; tom: systemets resolver."] },
    Field { key: "delivery.connect_timeout_secs", kind: Number, page: Relay,
        label: ["Outbound connect timeout (seconds)", "Verbindungs-Zeitlimit ausgehend (Sekunden)", "Udgående forbindelses-timeout (sekunder)"],
        help: ["Per host tried.", "Je versuchtem Host.", "Pr. forsøgt vært."] },
    Field { key: "storage.min_free_mb", kind: Number, page: Relay,
        label: ["Minimum free disk space (MiB)", "Mindestens freier Speicher (MiB)", "Mindste ledige diskplads (MiB)"],
        help: ["Below this, new mail is refused with 452 4.3.1.", "Darunter werden neue Mails mit 452 4.3.1 abgelehnt.", "Derunder afvises ny post med 452 4.3.1."] },
    Field { key: "storage.spool_layout", kind: Choice(&["auto", "two-files"]), page: Relay,
        label: ["Spool layout for new mail", "Spool-Format für neue Mails", "Spool-format for ny post"],
        help: ["auto: one file per message (not while a firmware update runs on trial). two-files: the layout of firmware before 2026-12; set it and let the queue drain before a downgrade to such a version.", "auto: eine Datei pro Nachricht (nicht während ein Firmware-Update zur Probe läuft). two-files: das Format der Firmware vor 2026-12; vor einem Downgrade auf eine solche Version setzen und die Queue leerlaufen lassen.", "auto: én fil pr. besked (ikke mens en firmwareopdatering kører på prøve). two-files: formatet fra firmware før 2026-12; sæt det, og lad køen tømmes før en nedgradering til en sådan version."] },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn every_field_names_a_key_of_the_configuration() {
        let cfg = serde_json::to_value(Config::default_config()).unwrap();
        for f in FIELDS {
            assert!(
                lookup(&cfg, f.key).is_some(),
                "{} is no configuration key",
                f.key
            );
            // The effective value survives display and parse unchanged.
            let shown = f.display(&cfg);
            let parsed = f.parse(Some(&shown)).unwrap();
            assert_eq!(Some(parsed), f.current(&cfg), "{}", f.key);
        }
    }

    #[test]
    fn numbers_and_choices_are_checked() {
        let f = FIELDS
            .iter()
            .find(|f| f.key == "smtp.max_recipients")
            .unwrap();
        assert!(f.parse(Some("many")).is_err());
        assert!(f.parse(Some("-1")).is_err());
        let f = FIELDS.iter().find(|f| f.key == "harvest.mode").unwrap();
        assert!(f.parse(Some("sometimes")).is_err());
    }
}
