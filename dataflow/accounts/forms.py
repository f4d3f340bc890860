from django import forms


class ProfileForm(forms.Form):
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    institute = forms.CharField(max_length=300, required=False)
    country = forms.CharField(max_length=100, required=False)
