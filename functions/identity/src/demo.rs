//! Demo citizens of the development identity provider (local mode only).
//! Fictional people; their pseudonyms start with `DEMO/` so they can never be
//! mistaken for NIA pseudonyms.

use crate::profile::Profile;

#[derive(Debug, Clone, Copy)]
pub struct DemoCitizen {
    pub login: &'static str,
    pub person_identifier: &'static str,
    pub given_name: &'static str,
    pub family_name: &'static str,
    pub date_of_birth: &'static str,
    pub address: &'static str,
    pub email: Option<&'static str>,
    pub phone: Option<&'static str>,
    pub about: &'static str,
}

impl DemoCitizen {
    pub fn profile(&self) -> Profile {
        Profile {
            given_name: Some(self.given_name.to_owned()),
            family_name: Some(self.family_name.to_owned()),
            date_of_birth: Some(self.date_of_birth.to_owned()),
            address: Some(self.address.to_owned()),
            email: self.email.map(str::to_owned),
            phone: self.phone.map(str::to_owned),
        }
    }
}

pub const DEMO_CITIZENS: &[DemoCitizen] = &[
    DemoCitizen {
        login: "jana",
        person_identifier: "DEMO/jana-novakova",
        given_name: "Jana",
        family_name: "Nováková",
        date_of_birth: "1985-03-14",
        address: "Vinohradská 1511/230, 100 00 Praha 10",
        email: Some("jana.novakova@example.test"),
        phone: Some("+420601234567"),
        about: "a typical citizen with a data box",
    },
    DemoCitizen {
        login: "jiri",
        person_identifier: "DEMO/jiri-dvorak",
        given_name: "Jiří",
        family_name: "Dvořák",
        date_of_birth: "1972-11-02",
        address: "náměstí Svobody 94/4, 602 00 Brno",
        email: Some("jiri.dvorak@example.test"),
        phone: Some("+420731555019"),
        about: "an entrepreneur with two vehicles",
    },
    DemoCitizen {
        login: "ludmila",
        person_identifier: "DEMO/ludmila-stastna-zdarska",
        given_name: "Ludmila",
        family_name: "Šťastná Žďárská",
        date_of_birth: "1949-06-30",
        address: "Masarykovo náměstí 1, 591 01 Žďár nad Sázavou",
        email: None,
        phone: None,
        about: "a pensioner with no e-mail or phone",
    },
    DemoCitizen {
        login: "petr",
        person_identifier: "DEMO/petr-svoboda",
        given_name: "Petr",
        family_name: "Svoboda",
        date_of_birth: "1998-09-21",
        address: "Palackého 12, 779 00 Olomouc",
        email: Some("petr.svoboda@example.test"),
        phone: None,
        about: "a young citizen without a data box, who can request one",
    },
];

pub fn find(login: &str) -> Option<&'static DemoCitizen> {
    DEMO_CITIZENS.iter().find(|c| c.login == login)
}
