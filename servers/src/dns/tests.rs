use super::*;

const HOSTS: &str = include_str!("../../../conformance/suites/dns/hosts");

fn zone() -> Zone {
    suite_zone(HOSTS).expect("the suite's hosts file")
}

fn query(name: &str, qtype: u16) -> dns::Query {
    dns::Query {
        id: 7,
        opcode: 0,
        aa: false,
        tc: false,
        rd: true,
        ra: false,
        z: false,
        ad: true,
        cd: false,
        rcode: 0,
        questions: vec![dns::Question {
            name: name.into(),
            qtype,
            qclass: CLASS_IN,
        }],
        answers: vec![],
        authority: vec![],
        additional: vec![],
    }
}

fn ask(zone: &Zone, name: &str, qtype: u16) -> dns::Response {
    zone.answer(&query(name, qtype), &mut Rotation::default())
}

fn last_octets(r: &dns::Response) -> Vec<u8> {
    r.answers
        .iter()
        .filter_map(|a| a.a.as_ref().map(|b| b[3]))
        .collect()
}

#[test]
fn hosts_files_are_read_with_comments_and_both_families() {
    let h =
        Hosts::parse("# c\n\n192.0.2.1 a.test b.test # x\n2001:db8::1\ta.test.\n192.0.2.1 A.TEST\n").unwrap();
    assert_eq!(
        h.get("a.test."),
        Some(&Addresses {
            v4: vec![[192, 0, 2, 1]],
            v6: vec![[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]],
        })
    );
    assert_eq!(h.get("b.test.").map(|a| a.v4.len()), Some(1));
    assert_eq!(h.len(), 2);
    let e = Hosts::parse("192.0.2.1 ok.test\nnot-an-address x.test\n").unwrap_err();
    assert_eq!(e.line, 2);
    assert!(Hosts::parse("192.0.2.1\n").is_err());
    assert!(Hosts::parse("192.0.2.1 a..b\n").is_err());
    let suite = Hosts::parse(HOSTS).unwrap();
    assert_eq!(suite.get("host100.test.").unwrap().v4, vec![[10, 0, 1, 100]]);
}

#[test]
fn records_nxdomain_and_empty_answers_as_dnsmasq_gives_them() {
    let z = zone();
    let r = ask(&z, "alpha.test.", TYPE_A);
    assert_eq!(
        (r.id, r.rcode, r.aa, r.ra, r.rd, r.ad),
        (7, NOERROR, true, true, true, false)
    );
    assert_eq!(r.answers[0].ttl, 3600);
    assert_eq!(last_octets(&r), vec![1]);
    let r = ask(&z, "AlPhA.TeSt.", TYPE_AAAA);
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.answers[0].name, "AlPhA.TeSt.");
    let r = ask(&z, "nosuch.test.", TYPE_A);
    assert_eq!((r.rcode, r.aa, r.answers.len()), (NXDOMAIN, false, 0));
    let r = ask(&z, "beta.test.", TYPE_AAAA);
    assert_eq!((r.rcode, r.aa, r.answers.len()), (NOERROR, false, 0));
    let r = ask(&z, "alpha.test.", 16);
    assert_eq!((r.rcode, r.aa, r.answers.len()), (NOERROR, false, 0));
    let r = ask(&z, "alpha.test.", TYPE_ANY);
    assert_eq!(r.answers.len(), 2);
    let r = ask(&z, "1.2.0.192.in-addr.arpa.", TYPE_PTR);
    assert_eq!(r.answers[0].data.as_deref(), Some(&b"\x05alpha\x04test\x00"[..]));
}

#[test]
fn a_cname_comes_before_its_targets_records() {
    let z = zone();
    let r = ask(&z, "www.test.", TYPE_A);
    assert_eq!(r.answers.len(), 2);
    assert_eq!(r.answers[0].cname.as_deref(), Some("alpha.test."));
    assert_eq!(r.answers[0].name, "www.test.");
    assert_eq!(r.answers[1].name, "alpha.test.");
    assert!(r.aa);
    let r = ask(&z, "www.test.", TYPE_CNAME);
    assert_eq!(r.answers.len(), 1);
    // A loop of aliases ends.
    let mut z = zone();
    z.add_cname("x.test", "y.test").unwrap();
    z.add_cname("y.test", "x.test").unwrap();
    let r = ask(&z, "x.test.", TYPE_A);
    assert_eq!(r.answers.len(), MAX_CNAME_CHAIN + 1);
}

#[test]
fn several_addresses_rotate_per_connection_as_dnsmasq_does() {
    let z = zone();
    let mut rot = Rotation::default();
    let q = query("multi.test.", TYPE_A);
    let orders: Vec<_> = (0..4).map(|_| last_octets(&z.answer(&q, &mut rot))).collect();
    assert_eq!(
        orders,
        vec![
            vec![12, 11, 13],
            vec![11, 13, 12],
            vec![13, 12, 11],
            vec![12, 11, 13]
        ]
    );
    // A fresh connection starts over.
    assert_eq!(
        last_octets(&z.answer(&q, &mut Rotation::default())),
        vec![12, 11, 13]
    );
}

#[test]
fn edns_opcodes_and_odd_queries() {
    let z = zone();
    let mut q = query("alpha.test.", TYPE_A);
    q.additional.push(dns::Record {
        name: ".".into(),
        rtype: TYPE_OPT,
        class: 4096,
        ttl: 0,
        a: None,
        aaaa: None,
        cname: None,
        data: Some(Bytes::from_static(b"\x00\x0a\x00\x08abcdefgh")),
    });
    let r = z.answer(&q, &mut Rotation::default());
    assert_eq!(r.additional.len(), 1);
    assert_eq!(
        (r.additional[0].class, r.additional[0].data.as_deref()),
        (1232, Some(&b""[..]))
    );
    let mut q = query("alpha.test.", TYPE_A);
    q.opcode = 2;
    let r = z.answer(&q, &mut Rotation::default());
    assert_eq!((r.opcode, r.rcode, r.questions.len()), (2, NOTIMP, 1));
    q.opcode = 0;
    q.questions.clear();
    assert_eq!(z.answer(&q, &mut Rotation::default()).rcode, REFUSED);
    let mut q = query("alpha.test.", TYPE_A);
    q.questions.push(q.questions[0].clone());
    assert_eq!(z.answer(&q, &mut Rotation::default()).rcode, FORMERR);
    let mut q = query("alpha.test.", TYPE_A);
    q.questions[0].qclass = 3;
    assert_eq!(z.answer(&q, &mut Rotation::default()).rcode, REFUSED);
    let mut q = query("alpha.test.", TYPE_A);
    q.rd = false;
    assert!(!z.answer(&q, &mut Rotation::default()).rd);
}
