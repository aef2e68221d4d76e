//! Names a reader can guess: a choice's type after its field where that is
//! unambiguous, its variants as the spec names them.

protocol_macros::protocol!("../protocol-dsl/tests/fixtures/valid/choice-names.proto");

#[test]
fn a_choice_is_named_after_its_field_and_its_options_as_the_spec_names_them() {
    // `mute` is the only choice of that name and no type is called `Mute`.
    let mute = projector::SetMute {
        mute: projector::Mute::On,
    };
    assert_eq!(format!("{mute:?}"), "SetMute { mute: On }");
    // `Input` is the message's name, so its choice is `InputInput`; `power`
    // is a choice in two messages.
    let on = projector::Power {
        power: projector::PowerPower::On,
    };
    let input = projector::Input {
        input: projector::InputInput::V21,
    };
    let is = projector::PowerIs {
        power: projector::PowerIsPower::WarmingUp,
    };
    assert_eq!(format!("{on:?}"), "Power { power: On }");
    assert_eq!(format!("{input:?}"), "Input { input: V21 }");
    assert_eq!(format!("{is:?}"), "PowerIs { power: WarmingUp }");
}
