package auth

import (
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

const (
	minPasswordRunes = 10
	maxPasswordRunes = 128
	maxNameRunes     = 100
	maxDeviceIDRunes = 128
	maxE164Digits    = 15
)

// NormalizePhone checks that phone is an E.164 number ("+" then 2 to 15 digits, no spaces or punctuation) that
// is valid for its region, and returns its canonical E.164 form. Failure: *ValidationError on "phone".
func NormalizePhone(phone string) (string, error) {
	if phone == "" {
		return "", &ValidationError{Field: "phone", Message: "required"}
	}
	// Shape first, so that only short digit strings reach the phonenumbers parser.
	if len(phone) < 3 || len(phone) > 1+maxE164Digits || phone[0] != '+' || phone[1] == '0' {
		return "", &ValidationError{Field: "phone", Message: "must be E.164: + then the country code and number"}
	}
	for i := 1; i < len(phone); i++ {
		if phone[i] < '0' || phone[i] > '9' {
			return "", &ValidationError{Field: "phone", Message: "must be E.164: + then digits only"}
		}
	}
	num, err := phonenumbers.Parse(phone, "")
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", &ValidationError{Field: "phone", Message: "is not a valid number for its region"}
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// ValidatePassword checks a new password: valid UTF-8, 10 to 128 characters. Failure: *ValidationError on
// "password".
func ValidatePassword(pw string) error {
	if !utf8.ValidString(pw) {
		return &ValidationError{Field: "password", Message: "must be valid UTF-8"}
	}
	n := utf8.RuneCountInString(pw)
	if n < minPasswordRunes || n > maxPasswordRunes {
		return &ValidationError{Field: "password", Message: "must be 10 to 128 characters"}
	}
	return nil
}

// ValidateMPIN checks an MPIN: exactly 4 or 6 ASCII digits, not all the same digit and not a straight run up or
// down (1234, 0123, 654321, 9876). Failure: *ValidationError on "mpin".
func ValidateMPIN(mpin string) error {
	if err := validateMPINShape(mpin); err != nil {
		return err
	}
	same, up, down := true, true, true
	for i := 1; i < len(mpin); i++ {
		d := int(mpin[i]) - int(mpin[i-1])
		same = same && d == 0
		up = up && d == 1
		down = down && d == -1
	}
	switch {
	case same:
		return &ValidationError{Field: "mpin", Message: "must not repeat one digit"}
	case up || down:
		return &ValidationError{Field: "mpin", Message: "must not be a straight run of digits"}
	}
	return nil
}

// validateMPINShape checks an MPIN offered for verification: 4 or 6 ASCII digits. Trivial MPINs are not refused
// there: they cannot match (registration refused them) and count as wrong answers.
func validateMPINShape(mpin string) error {
	if len(mpin) != 4 && len(mpin) != 6 {
		return &ValidationError{Field: "mpin", Message: "must be 4 or 6 digits"}
	}
	for i := 0; i < len(mpin); i++ {
		if mpin[i] < '0' || mpin[i] > '9' {
			return &ValidationError{Field: "mpin", Message: "must be 4 or 6 digits"}
		}
	}
	return nil
}

// validateText checks an optional free-text field: valid UTF-8, at most maxRunes characters, no control
// characters (it is shown to operators).
func validateText(field, s string, maxRunes int) error {
	if !utf8.ValidString(s) {
		return &ValidationError{Field: field, Message: "must be valid UTF-8"}
	}
	if utf8.RuneCountInString(s) > maxRunes {
		return &ValidationError{Field: field, Message: "is too long"}
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return &ValidationError{Field: field, Message: "must not contain control characters"}
		}
	}
	return nil
}

// validateRegister checks a registration and returns the canonical phone.
func validateRegister(r RegisterRequest) (phone string, err error) {
	phone, err = NormalizePhone(r.Phone)
	if err != nil {
		return "", err
	}
	if err := ValidatePassword(r.Password); err != nil {
		return "", err
	}
	if err := ValidateMPIN(r.MPIN); err != nil {
		return "", err
	}
	if err := validateText("name", r.Name, maxNameRunes); err != nil {
		return "", err
	}
	return phone, nil
}

// validateLogin checks a login's shape and returns the canonical phone. The password is only bounded here, not
// held to the registration policy: a password that does not fit it is a wrong password, answered as such.
func validateLogin(r LoginRequest) (phone string, err error) {
	phone, err = NormalizePhone(r.Phone)
	if err != nil {
		return "", err
	}
	if r.Password == "" {
		return "", &ValidationError{Field: "password", Message: "required"}
	}
	if len(r.Password) > 4*maxPasswordRunes {
		return "", &ValidationError{Field: "password", Message: "is too long"}
	}
	if err := validateText("device_id", r.DeviceID, maxDeviceIDRunes); err != nil {
		return "", err
	}
	return phone, nil
}
