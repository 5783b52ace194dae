package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		in, want string // want "" means invalid
	}{
		{"+919876543210", "+919876543210"},
		{"+14155552671", "+14155552671"},
		{"+447911123456", "+447911123456"},
		{"+33612345678", "+33612345678"},
		{"", ""},
		{"919876543210", ""},      // no +
		{"+91 98765 43210", ""},   // spaces
		{"+91-9876543210", ""},    // punctuation
		{"+0919876543210", ""},    // country code cannot start with 0
		{"+91987654321", ""},      // too short for India
		{"+9198765432101234", ""}, // over 15 digits
		{"+11234567890", ""},      // US area code cannot start with 1
		{"+999123456789", ""},     // no such country code
		{"+91987654321０", ""},     // a fullwidth digit
		{"+", ""},
		{"+1", ""},
		{"＋919876543210", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := NormalizePhone(tc.in)
			if tc.want == "" {
				var verr *ValidationError
				if !errors.As(err, &verr) || verr.Field != "phone" {
					t.Fatalf("NormalizePhone(%q) = %q, %v; want a ValidationError on phone", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("NormalizePhone(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		name string
		pw   string
		ok   bool
	}{
		{"9 chars", "abcdefghi", false},
		{"10 chars", "abcdefghij", true},
		{"128 chars", strings.Repeat("x", 128), true},
		{"129 chars", strings.Repeat("x", 129), false},
		{"10 runes of 3 bytes", strings.Repeat("密", 10), true},
		{"9 runes of 3 bytes (27 bytes)", strings.Repeat("密", 9), false},
		{"128 runes of 4 bytes", strings.Repeat("😀", 128), true},
		{"invalid utf-8", "abcdefghij\xff", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidatePassword(tc.pw)
			if tc.ok != (err == nil) {
				t.Fatalf("ValidatePassword: %v, want ok=%v", err, tc.ok)
			}
			var verr *ValidationError
			if err != nil && (!errors.As(err, &verr) || verr.Field != "password") {
				t.Fatalf("error %v does not name password", err)
			}
		})
	}
}

func TestValidateMPIN(t *testing.T) {
	tests := []struct {
		mpin string
		ok   bool
	}{
		{"482916", true}, {"2580", true}, {"1357", true}, {"1243", true}, {"0000", false}, {"999999", false},
		{"1234", false}, {"0123", false}, {"6789", false}, {"9876", false}, {"3210", false}, {"123456", false},
		{"654321", false}, {"456789", false}, {"543210", false}, {"7890", true}, {"1212", true}, {"112233", true},
		{"123", false}, {"12345", false}, {"1234567", false}, {"", false}, {"12a4", false}, {"١٢٣٤", false},
		{"12 4", false}, {"+123", false}, {"４８２９", false},
	}
	for _, tc := range tests {
		t.Run(tc.mpin, func(t *testing.T) {
			err := ValidateMPIN(tc.mpin)
			if tc.ok != (err == nil) {
				t.Fatalf("ValidateMPIN(%q): %v, want ok=%v", tc.mpin, err, tc.ok)
			}
			var verr *ValidationError
			if err != nil && (!errors.As(err, &verr) || verr.Field != "mpin") {
				t.Fatalf("error %v does not name mpin", err)
			}
		})
	}
}

func TestValidateRegisterNamesField(t *testing.T) {
	ok := RegisterRequest{Phone: "+919876543210", Password: testPassword, MPIN: testMPIN, Name: "Asha Rao"}
	tests := []struct {
		name  string
		edit  func(*RegisterRequest)
		field string // "" means valid
	}{
		{"valid", func(*RegisterRequest) {}, ""},
		{"no name", func(r *RegisterRequest) { r.Name = "" }, ""},
		{"100-rune name", func(r *RegisterRequest) { r.Name = strings.Repeat("é", 100) }, ""},
		{"101-rune name", func(r *RegisterRequest) { r.Name = strings.Repeat("é", 101) }, "name"},
		{"control in name", func(r *RegisterRequest) { r.Name = "Asha\x00" }, "name"},
		{"newline in name", func(r *RegisterRequest) { r.Name = "Asha\nRao" }, "name"},
		{"bad phone", func(r *RegisterRequest) { r.Phone = "+91" }, "phone"},
		{"short password", func(r *RegisterRequest) { r.Password = "short" }, "password"},
		{"trivial mpin", func(r *RegisterRequest) { r.MPIN = "1111" }, "mpin"},
		{"phone checked first", func(r *RegisterRequest) { r.Phone = ""; r.MPIN = "" }, "phone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.edit(&r)
			_, err := validateRegister(r)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("validateRegister: %v", err)
				}
				return
			}
			var verr *ValidationError
			if !errors.As(err, &verr) || verr.Field != tc.field {
				t.Fatalf("validateRegister: %v, want ValidationError on %s", err, tc.field)
			}
			if strings.Contains(verr.Error(), r.Password) || (r.MPIN != "" && strings.Contains(verr.Error(), r.MPIN)) {
				t.Fatalf("validation error echoes a secret: %v", verr)
			}
		})
	}
}

func TestValidateLogin(t *testing.T) {
	var verr *ValidationError
	if _, err := validateLogin(LoginRequest{Phone: "+919876543210"}); !errors.As(err, &verr) || verr.Field != "password" {
		t.Errorf("empty password: %v", err)
	}
	if _, err := validateLogin(LoginRequest{Phone: "+919876543210", Password: "x", DeviceID: strings.Repeat("d", 129)}); !errors.As(err, &verr) || verr.Field != "device_id" {
		t.Errorf("long device id: %v", err)
	}
	if p, err := validateLogin(LoginRequest{Phone: "+919876543210", Password: "x", DeviceID: "pixel-7"}); err != nil || p != "+919876543210" {
		t.Errorf("valid login: %q, %v", p, err)
	}
}
