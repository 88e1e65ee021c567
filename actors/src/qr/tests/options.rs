use crate::qr::{EcLevel, MIN_CONTRAST_RATIO, QrOptionError, QrOptions, Rgb};

fn rgb(hex: &str) -> Rgb {
    Rgb::parse(hex).expect("valid test color")
}

#[test]
fn defaults_without_parameters() {
    let options = QrOptions::from_query("").expect("empty query is valid");

    assert_eq!(options.size(), 256);
    assert_eq!(options.margin(), 4);
    assert_eq!(options.ecl(), EcLevel::M);
    assert_eq!(options.fg(), Rgb::BLACK);
    assert_eq!(options.bg(), Rgb::WHITE);
    assert_eq!(options, QrOptions::default());
}

#[test]
fn every_option_parses() {
    let options =
        QrOptions::from_query("size=512&margin=0&ecl=h&fg=%23123&bg=FAFAFA").expect("valid");

    assert_eq!(options.size(), 512);
    assert_eq!(options.margin(), 0);
    assert_eq!(options.ecl(), EcLevel::H);
    assert_eq!(
        options.fg(),
        Rgb {
            r: 0x11,
            g: 0x22,
            b: 0x33
        }
    );
    assert_eq!(
        options.bg(),
        Rgb {
            r: 0xfa,
            g: 0xfa,
            b: 0xfa
        }
    );
}

#[test]
fn accepted_values_table() {
    let cases: &[(&str, u32, u32, EcLevel)] = &[
        ("size=64", 64, 4, EcLevel::M),
        ("size=2048", 2048, 4, EcLevel::M),
        ("size=0300", 300, 4, EcLevel::M),
        ("margin=0", 256, 0, EcLevel::M),
        ("margin=16", 256, 16, EcLevel::M),
        ("ecl=L", 256, 4, EcLevel::L),
        ("ecl=m", 256, 4, EcLevel::M),
        ("ecl=Q", 256, 4, EcLevel::Q),
        ("ecl=q", 256, 4, EcLevel::Q),
    ];
    for (query, size, margin, ecl) in cases {
        let options =
            QrOptions::from_query(query).unwrap_or_else(|error| panic!("{query}: {error}"));
        assert_eq!(options.size(), *size, "{query}");
        assert_eq!(options.margin(), *margin, "{query}");
        assert_eq!(options.ecl(), *ecl, "{query}");
    }
}

#[test]
fn rejected_values_table() {
    // (query, code, field, fragments the message must contain)
    let cases: &[(&str, &str, &str, &[&str])] = &[
        (
            "size=63",
            "invalid_qr_option",
            "size",
            &["size '63'", "64 to 2048"],
        ),
        (
            "size=2049",
            "invalid_qr_option",
            "size",
            &["size '2049'", "64 to 2048"],
        ),
        ("size=0", "invalid_qr_option", "size", &["size '0'"]),
        ("size=-1", "invalid_qr_option", "size", &["size '-1'"]),
        ("size=12.5", "invalid_qr_option", "size", &["size '12.5'"]),
        ("size=%2B300", "invalid_qr_option", "size", &["size '+300'"]),
        ("size=+300", "invalid_qr_option", "size", &["size ' 300'"]),
        ("size=", "invalid_qr_option", "size", &["size ''"]),
        ("size=big", "invalid_qr_option", "size", &["size 'big'"]),
        (
            "size=99999999999",
            "invalid_qr_option",
            "size",
            &["'99999999999'"],
        ),
        (
            "margin=17",
            "invalid_qr_option",
            "margin",
            &["margin '17'", "0 to 16", "below 4"],
        ),
        ("margin=-2", "invalid_qr_option", "margin", &["margin '-2'"]),
        ("margin=x", "invalid_qr_option", "margin", &["margin 'x'"]),
        (
            "ecl=X",
            "invalid_qr_option",
            "ecl",
            &["ecl 'X'", "L, M, Q or H"],
        ),
        ("ecl=LL", "invalid_qr_option", "ecl", &["ecl 'LL'"]),
        ("ecl=", "invalid_qr_option", "ecl", &["ecl ''"]),
        (
            "fg=12345",
            "invalid_qr_option",
            "fg",
            &["fg '12345'", "3 or 6 hex digits"],
        ),
        ("fg=%23ggg", "invalid_qr_option", "fg", &["fg '#ggg'"]),
        ("fg=black", "invalid_qr_option", "fg", &["fg 'black'"]),
        ("bg=%23%23fff", "invalid_qr_option", "bg", &["bg '##fff'"]),
        ("bg=fffffff", "invalid_qr_option", "bg", &["bg 'fffffff'"]),
        ("bg=", "invalid_qr_option", "bg", &["bg ''"]),
        (
            "size=100&size=200",
            "invalid_qr_option",
            "size",
            &["'size'", "more than once"],
        ),
        (
            "colour=red",
            "unknown_qr_option",
            "colour",
            &["'colour'", "size, margin, ecl, fg or bg"],
        ),
        ("Size=100", "unknown_qr_option", "Size", &["'Size'"]),
        (
            "fg=777777",
            "qr_contrast_too_low",
            "fg",
            &["#777777", "#ffffff", "4.48:1", "4.5:1"],
        ),
        (
            "fg=ff0000",
            "qr_contrast_too_low",
            "fg",
            &["#ff0000", "4.00:1"],
        ),
        ("fg=eee&bg=fff", "qr_contrast_too_low", "fg", &["#eeeeee"]),
        ("fg=000&bg=000", "qr_contrast_too_low", "fg", &["1.00:1"]),
        (
            "fg=fff&bg=000",
            "qr_colors_inverted",
            "fg",
            &["fg #ffffff", "bg #000000", "swap"],
        ),
        (
            "fg=ffff00&bg=000080",
            "qr_colors_inverted",
            "fg",
            &["#ffff00"],
        ),
    ];
    for (query, code, field, fragments) in cases {
        let error = QrOptions::from_query(query).expect_err(query);
        let message = error.to_string();
        assert_eq!(error.code(), *code, "{query}: {message}");
        assert_eq!(error.field(), *field, "{query}: {message}");
        for fragment in *fragments {
            assert!(
                message.contains(fragment),
                "{query}: '{message}' lacks '{fragment}'"
            );
        }
    }
}

#[test]
fn long_value_is_cut_in_message() {
    let query = format!("size={}", "9".repeat(500));

    let message = QrOptions::from_query(&query)
        .expect_err("too long")
        .to_string();

    assert!(message.len() < 200, "message is {} bytes", message.len());
    assert!(
        message.contains(&format!("'{}...'", "9".repeat(64))),
        "{message}"
    );
}

#[test]
fn colors_parse_in_every_form() {
    let expected = Rgb {
        r: 0x11,
        g: 0xaa,
        b: 0xff,
    };

    assert_eq!(Rgb::parse("1af"), Some(expected));
    assert_eq!(Rgb::parse("#1AF"), Some(expected));
    assert_eq!(Rgb::parse("11aaff"), Some(expected));
    assert_eq!(Rgb::parse("#11AaFf"), Some(expected));
    assert_eq!(Rgb::parse("#1af0"), None);
    assert_eq!(Rgb::parse("+1af"), None);
    assert_eq!(Rgb::parse("１af"), None);
    assert_eq!(expected.to_string(), "#11aaff");
}

#[test]
fn contrast_ratio_matches_wcag_values() {
    let black_on_white = Rgb::BLACK.contrast_ratio(Rgb::WHITE);
    let same = rgb("808080").contrast_ratio(rgb("808080"));
    let gray = rgb("777777").contrast_ratio(Rgb::WHITE);
    let red = rgb("ff0000").contrast_ratio(Rgb::WHITE);

    assert!((black_on_white - 21.0).abs() < 1e-9, "{black_on_white}");
    assert!((same - 1.0).abs() < 1e-9, "{same}");
    assert!((gray - 4.48).abs() < 0.005, "{gray}");
    assert!((red - 4.0).abs() < 0.005, "{red}");
    assert!((Rgb::WHITE.contrast_ratio(Rgb::BLACK) - black_on_white).abs() < 1e-9);
}

#[test]
fn contrast_threshold_is_inclusive() {
    // #767676 is the lightest gray that reaches 4.5:1 on white (4.54:1), #777777 reaches 4.48:1.
    let passing = rgb("767676");
    let failing = rgb("777777");

    assert!(passing.contrast_ratio(Rgb::WHITE) >= MIN_CONTRAST_RATIO);
    assert!(QrOptions::new(256, 4, EcLevel::M, passing, Rgb::WHITE).is_ok());
    assert!(matches!(
        QrOptions::new(256, 4, EcLevel::M, failing, Rgb::WHITE),
        Err(QrOptionError::LowContrast { .. })
    ));
}

#[test]
fn new_checks_ranges() {
    let size = QrOptions::new(63, 4, EcLevel::M, Rgb::BLACK, Rgb::WHITE).expect_err("size 63");
    let margin =
        QrOptions::new(256, 17, EcLevel::M, Rgb::BLACK, Rgb::WHITE).expect_err("margin 17");
    let inverted =
        QrOptions::new(256, 4, EcLevel::M, Rgb::WHITE, Rgb::BLACK).expect_err("inverted");

    assert_eq!(size.field(), "size");
    assert_eq!(margin.field(), "margin");
    assert_eq!(inverted.code(), "qr_colors_inverted");
}
